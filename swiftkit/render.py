"""Recipe -> the exact ms-swift command line (argv and environment), version-aware.

Nothing here runs anything: a Command can always be printed as a copy-pasteable shell line.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from swiftkit import compat
from swiftkit.errors import Finding, SwiftkitError
from swiftkit.recipe import Recipe

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


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def shell(self) -> str:
        """One line for sh/bash: environment assignments first, every value quoted."""
        parts = [f"{k}={shlex.quote(v)}" for k, v in self.env.items()]
        parts += [shlex.quote(a) for a in self.argv]
        return " ".join(parts)

    def to_json(self) -> str:
        return json.dumps({"argv": self.argv, "env": self.env}, ensure_ascii=False, indent=2)


def format_value(value: object) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [v for item in value for v in format_value(item)]
    if isinstance(value, float):
        return [repr(value)]
    return [str(value)]


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


def argv_from_flags(subcommand: str, flags: dict) -> list[str]:
    argv = ["swift", subcommand]
    for key, value in flags.items():
        argv.append(f"--{key}")
        argv += format_value(value)
    return argv


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


def render_infer(
    checkpoint: Path,
    val_dataset: Path,
    result_path: Path,
    max_new_tokens: int = 256,
    base: bool = False,
    max_batch_size: int | None = None,
) -> Command:
    """Batch inference with a trained adapter (ms-swift reads the base model, template and
    system prompt from the checkpoint's args.json); `base=True` answers with the base model."""
    flags = source_flags(checkpoint, base)
    flags.update(
        val_dataset=str(val_dataset),
        result_path=str(result_path),
        temperature=0,
        max_new_tokens=max_new_tokens,
        stream=False,
    )
    if max_batch_size:
        flags["max_batch_size"] = max_batch_size
    return Command(argv_from_flags("infer", flags))


def source_flags(checkpoint: Path, base: bool = False) -> dict[str, object]:
    """What to load: `--adapters CKPT` for a LoRA checkpoint, `--model DIR` for a full (merged)
    model, or with `base=True` the untouched base model, template and system from args.json."""
    if base:
        args = json.loads((checkpoint / "args.json").read_text(encoding="utf-8"))
        flags = {
            "model": args["model"],
            "model_type": args.get("model_type"),
            "template": args.get("template"),
            "system": args.get("system"),
        }
        return {k: v for k, v in flags.items() if v is not None}
    if (checkpoint / "adapter_config.json").is_file():
        return {"adapters": str(checkpoint)}
    return {"model": str(checkpoint)}


def render_chat(checkpoint: Path, base: bool = False) -> Command:
    """The blog's interactive chat line, on a resolved checkpoint instead of a pasted path."""
    flags = source_flags(checkpoint, base)
    flags.update(stream=True, temperature=0, max_new_tokens=2048)
    return Command(argv_from_flags("infer", flags))


def render_export_merge(checkpoint: Path, output_dir: Path) -> Command:
    """Merge a LoRA adapter into a full model folder (ms-swift refuses an existing one too)."""
    flags = {"adapters": str(checkpoint), "merge_lora": True, "output_dir": str(output_dir)}
    return Command(argv_from_flags("export", flags))


def render_deploy(
    checkpoint: Path, host: str, port: int, served_model_name: str, base: bool = False
) -> Command:
    """An OpenAI-compatible server (`/v1/chat/completions`) on one checkpoint or model."""
    flags = source_flags(checkpoint, base)
    flags.update(host=host, port=port, served_model_name=served_model_name)
    return Command(argv_from_flags("deploy", flags))
