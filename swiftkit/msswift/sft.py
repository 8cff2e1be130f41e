"""Recipe -> the exact `swift sft` command line (argv and environment), version-aware.
Nothing here runs or checks anything: the recipe was checked when it was loaded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from swiftkit.errors import SwiftkitError
from swiftkit.msswift import compat, sftflags
from swiftkit.msswift.argv import add_plugin
from swiftkit.msswift.command import Command, argv_from_flags, option
from swiftkit.resources import PLUGIN

if TYPE_CHECKING:  # the recipe package checks flags against MANAGED below
    from swiftkit.recipe.model import FlagValue, Recipe

# Flags swiftkit sets itself; a recipe that sets them under [train] is told where instead.
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
    "strict": "swiftkit sets strict = true: a record ms-swift cannot read stops the run",
}
STOP_CALLBACK = "swiftkit_stop_when_verified"  # plugins/stop_when_verified.py's NAME
STOP_CONFIG_ENV = "SWIFTKIT_STOP_CONFIG"  # and its CONFIG_ENV: the settings file

# The published one-liner's order, so a rendered line reads like the blog's.
ORDER = """model tuner_type dataset val_dataset torch_dtype num_train_epochs
per_device_train_batch_size per_device_eval_batch_size learning_rate lora_rank lora_alpha
target_modules gradient_accumulation_steps eval_steps save_steps save_total_limit logging_steps
max_length output_dir system warmup_ratio dataloader_num_workers model_author model_name
model_type template""".split()


def sft_flags(
    recipe: Recipe,
    run_dir: Path,
    datasets: list[str],
    version: str,
    val_datasets: list[str] | None = None,
) -> dict[str, FlagValue]:
    """Every `swift sft` flag of the run, in ORDER, with names for `version`."""
    family = recipe.model.type_and_template()
    if family is None:  # only a recipe that skipped its checks gets here (the family is known)
        raise SwiftkitError(f"cannot tell the model family of '{recipe.model.id}'")
    model = recipe.model
    flags: dict[str, FlagValue] = dict(recipe.train.flags)
    flags.update(model=str(model.path) if model.path else model.id)
    flags.update(model_type=family[0], template=family[1])
    flags.update(dataset=[*datasets], output_dir=str(run_dir), system=recipe.train.system)
    ident = recipe.identity
    more: dict[str, FlagValue | None] = {"val_dataset": [*(val_datasets or [])]}
    more.update(model_author=ident.author, model_name=ident.name, deepspeed=recipe.launch.deepspeed)
    flags.update({k: v for k, v in more.items() if v})  # the ones a recipe sets
    known = sftflags.known_flags()[0]  # the installed ms-swift's, else swiftkit's table
    if flags.get("dataloader_num_workers") == 0 and "dataloader_persistent_workers" in known:
        # ms-swift 4.5.3 turned dataloader_persistent_workers on by default, and torch refuses
        # it without workers ("persistent_workers option needs num_workers > 0").
        flags.setdefault("dataloader_persistent_workers", False)
    flags["add_version"] = False
    flags["strict"] = True
    if recipe.model.path is not None:
        flags["check_model"] = False
    ordered = {k: flags[k] for k in ORDER if k in flags}
    ordered.update({k: flags[k] for k in sorted(flags) if k not in ordered})
    return {compat.flag_name(k, version): v for k, v in ordered.items()}


def launch_env(recipe: Recipe) -> dict[str, str]:
    """The preset's [env] plus torchrun's variables from [launch]. Several processes on a GPU
    node see GPUs 0..n-1 (the preset's single card would leave them all on GPU 0)."""
    env = dict(recipe.train.preset.env) if recipe.train.preset else {}
    nproc = recipe.launch.processes_per_node()
    if nproc > 1 and recipe.train.device == "cuda":
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(nproc))
    env.update(recipe.launch.env())
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


def add_stop_plugin(command: Command, config: Path) -> None:
    """Load the stop-when-verified callback (plugins/stop_when_verified.py) into `swift sft`,
    its settings read from `config`."""
    command.argv[:] = add_plugin(command.argv, PLUGIN) + [option("callbacks"), STOP_CALLBACK]
    command.env[STOP_CONFIG_ENV] = str(config)


def let_swift_name_the_folder(command: Command, version: str) -> None:
    """--add_version true: ms-swift writes into a new vN-DATE-TIME folder under output_dir, so
    a pasted line run twice does not write over the first run."""
    i = command.argv.index(option(compat.flag_name("add_version", version)))
    command.argv[i + 1] = "true"


def memory_probe(
    model: Path, data: Path, out: Path, batch: int, length: int, gc: bool, steps: int
) -> Command:
    """The CPU memory baseline's `swift sft`: LoRA at ms-swift's defaults (the estimate asks
    msswift for the same ones), float32 on the CPU, every sequence truncated to exactly
    `length` (no padding-free packing), nothing saved."""
    flags: dict[str, object] = dict(model=model, dataset=data, output_dir=out, max_length=length)
    flags.update(per_device_train_batch_size=batch, gradient_checkpointing=gc, max_steps=steps)
    fixed = """--model_type qwen2 --template qwen2_5 --torch_dtype float32
    --truncation_strategy right --padding_free false --gradient_accumulation_steps 1
    --dataloader_num_workers 0 --dataset_num_proc 1 --split_dataset_ratio 0 --logging_steps 1
    --save_strategy no --report_to none --add_version false --check_model false"""
    return Command(argv_from_flags("sft", flags) + fixed.split())
