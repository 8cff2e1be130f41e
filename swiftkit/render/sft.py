"""Recipe -> the exact `swift sft` command line (argv and environment), version-aware.

Nothing here runs anything or checks anything: the recipe was checked when it was loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from swiftkit.errors import Finding, SwiftkitError
from swiftkit.recipe import Recipe
from swiftkit.render import compat
from swiftkit.render.command import Command, argv_from_flags

# The published one-liner's order, so a rendered line reads like the blog's.
ORDER = [
    "model",
    "tuner_type",
    "dataset",
    "val_dataset",
    "torch_dtype",
    "num_train_epochs",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "learning_rate",
    "lora_rank",
    "lora_alpha",
    "target_modules",
    "gradient_accumulation_steps",
    "eval_steps",
    "save_steps",
    "save_total_limit",
    "logging_steps",
    "max_length",
    "output_dir",
    "system",
    "warmup_ratio",
    "dataloader_num_workers",
    "model_author",
    "model_name",
    "model_type",
    "template",
]
# Flags swiftkit sets itself; a recipe that sets them is told why not.
MANAGED = {
    "model": "set [model] id instead",
    "dataset": "set [data] datasets instead",
    "val_dataset": "set [data] val_datasets instead",
    "model_type": "set [model] model_type instead",
    "template": "set [model] template instead",
    "add_version": "swiftkit names the run folder itself",
    "model_author": "set [identity] author instead",
    "model_name": "set [identity] name instead",
    "deepspeed": "set [launch] deepspeed instead",
}
# [launch] keys -> the environment ms-swift's `swift` entry point hands to torchrun.
LAUNCH_ENV = {
    "nproc_per_node": "NPROC_PER_NODE",
    "nnodes": "NNODES",
    "node_rank": "NODE_RANK",
    "master_addr": "MASTER_ADDR",
    "master_port": "MASTER_PORT",
}


def model_args(recipe: Recipe) -> dict[str, object]:
    """--model, --model_type and --template, resolved from the id or the local config."""
    model = recipe.model
    config_type = None
    if recipe.model_path is not None:
        cfg = recipe.model_path / "config.json"
        if cfg.is_file():
            try:
                config_type = json.loads(cfg.read_text(encoding="utf-8")).get("model_type")
            except (OSError, ValueError):
                config_type = None
        elif model.get("build") == "tiny":
            config_type = "qwen2"
    family = compat.model_family(recipe.model_id, config_type)
    model_type = model.get("model_type") or (family or {}).get("model_type")
    template = model.get("template") or (family or {}).get("template")
    if not model_type or not template:
        why = (family or {}).get("why", "its name and config.json do not identify the family")
        raise SwiftkitError(
            f"cannot tell the model family of '{recipe.model_id}'",
            [
                Finding.error(
                    str(recipe.path),
                    why,
                    line=recipe.line_of("model", "id"),
                    field="model.model_type",
                    fix='set [model] model_type and template, e.g. model_type = "qwen2", '
                    'template = "qwen2_5" for Qwen2.5 (`swift sft --help` lists them)',
                )
            ],
        )
    return {
        "model": str(recipe.model_path) if recipe.model_path else recipe.model_id,
        "model_type": model_type,
        "template": template,
    }


def sft_flags(
    recipe: Recipe,
    run_dir: Path,
    datasets: list[str],
    version: str,
    val_datasets: list[str] | None = None,
) -> dict:
    """Every `swift sft` flag of the run, in ORDER, with names for `version`."""
    flags: dict[str, object] = {}
    for key, value in recipe.train.items():
        if key in MANAGED:
            raise SwiftkitError(
                f"[train] {key} is set by swiftkit",
                [
                    Finding.error(
                        str(recipe.path),
                        f"'{key}' cannot be set under [train]",
                        line=recipe.line_of("train", key),
                        field=f"train.{key}",
                        fix=MANAGED[key],
                    )
                ],
            )
        flags[key] = value
    flags.update(model_args(recipe))
    flags["dataset"] = datasets
    if val_datasets:
        flags["val_dataset"] = val_datasets
    flags["output_dir"] = str(run_dir)
    flags["system"] = recipe.system
    if recipe.identity.get("author"):
        flags["model_author"] = recipe.identity["author"]
    if recipe.identity.get("name"):
        flags["model_name"] = recipe.identity["name"]
    if recipe.launch.get("deepspeed"):
        flags["deepspeed"] = recipe.launch["deepspeed"]
    flags["add_version"] = False
    flags["strict"] = True
    if recipe.model_path is not None:
        flags["check_model"] = False
    ordered = {k: flags[k] for k in ORDER if k in flags}
    ordered.update({k: flags[k] for k in sorted(flags) if k not in ordered})
    return {compat.flag_name(k, version): v for k, v in ordered.items()}


def launch_env(recipe: Recipe) -> dict[str, str]:
    """The preset's [env] plus torchrun's variables from [launch].

    Several processes on a GPU node see GPUs 0..n-1 (the preset's single card would leave
    them all on GPU 0).
    """
    env = {str(k): str(v) for k, v in recipe.preset.get("env", {}).items()}
    launch = recipe.launch
    nproc = int(launch.get("nproc_per_node", 1))
    if nproc > 1 and recipe.device == "cuda":
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(nproc))
    for key, var in LAUNCH_ENV.items():
        if key in launch:
            env[var] = str(launch[key])
    return env


def render_sft(
    recipe: Recipe,
    run_dir: Path,
    datasets: list[str],
    version: str,
    val_datasets: list[str] | None = None,
) -> Command:
    flags = sft_flags(recipe, run_dir, datasets, version, val_datasets)
    return Command(argv_from_flags("sft", flags), launch_env(recipe))
