"""What loading a recipe checks beyond the schema, from files alone (never the machine):
[launch] rules, [train] flags against the installed ms-swift, flags swiftkit sets itself, the
model folder and its family, the output folder."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from swiftkit import jsonl
from swiftkit.errors import Finding, did_you_mean
from swiftkit.msswift.sft import MANAGED
from swiftkit.recipe.model import LaunchSpec, ModelSpec, Preset, TrainSpec
from swiftkit.recipe.value_checks import keyed, path_problem


def launch_findings(
    launch: LaunchSpec, preset: Preset | None, text: str, source: str
) -> list[Finding]:
    """Rules between [launch] keys that the schema cannot say (ranges are in the schema)."""
    out = []
    nnodes = launch.nnodes or 1

    def add(key: str, message: str, fix: str, field: str | None = None) -> None:
        out.append(keyed(source, text, ["launch", key], message, fix, field=field))

    if launch.node_rank is not None and launch.node_rank >= nnodes:
        add(
            "node_rank",
            f"node_rank {launch.node_rank} is out of range for nnodes = {nnodes}",
            f"node ranks run from 0 to {nnodes - 1}: 0 on the master node, 1, 2, ... on the others",
        )
    if nnodes > 1 and not launch.master_addr:
        add(
            "nnodes",
            f"nnodes = {nnodes} needs the master node's address",
            'add master_addr = "10.0.0.1" (the IP of the node_rank 0 machine, '
            "reachable from every node) and the same master_port on every node",
            "launch.master_addr",
        )
    if launch.deepspeed and preset is not None and preset.device != "cuda":
        add(
            "deepspeed",
            f'deepspeed = "{launch.deepspeed}" needs GPUs; preset '
            f"'{preset.name}' runs on the {preset.device}",
            "remove deepspeed for a CPU run (torchrun with gloo needs nothing more), "
            "or choose a GPU preset",
        )
    return out


def train_flag_findings(train: dict, text: str, source: str) -> list[Finding]:
    """Every [train] key must be a `swift sft` flag of the installed ms-swift (or a renamed
    one), and not one swiftkit sets itself.

    ms-swift stops at start-up on an unknown flag (`remaining_argv: [...]`), after the model
    loads on some versions; here it costs a set lookup.
    """
    from swiftkit.msswift import compat, sftflags

    known, origin = sftflags.known_flags()
    version = compat.target_version()
    renames = {row[k] for row in compat.table()["flag_renames"] for k in ("old", "new")}
    findings = []
    for key in train:
        make, new = Finding.error, compat.flag_name(key, version) if key in renames else key
        if key in MANAGED:
            message, fix = f"'{key}' cannot be set under [train]: swiftkit sets it", MANAGED[key]
        elif key in known or (key in renames and new == key):
            continue
        elif key in renames:
            make = Finding.warning
            message = (
                f"'{key}' is spelled '--{new}' by ms-swift {version}; swiftkit renders '--{new}'"
            )
            fix = f"write {new} = ... (`swiftkit flags {new}` shows it)"
        else:
            message = f"'{key}' is not a `swift sft` flag (checked against {origin})"
            fix = (
                f"{did_you_mean(key, known, cutoff=0.75)}keys under [train] are "
                "`swift sft` flag names without the dashes (`swiftkit flags` lists them)"
            )
        findings.append(keyed(source, text, ["train", key], message, fix, make=make))
    return findings


def family_findings(model: ModelSpec, text: str, source: str) -> list[Finding]:
    """ms-swift needs --model_type and --template: from [model], else the id or config.json."""
    if model.type_and_template() is not None:
        return []
    return [
        keyed(
            source,
            text,
            ["model", "id"],
            f"cannot tell the model family of '{model.id}': " + model.family_why(),
            'set [model] model_type and template, e.g. model_type = "qwen2", '
            'template = "qwen2_5" for Qwen2.5 (ms-swift\'s "Supported Models" page lists them)',
            field="model.model_type",
        )
    ]


WEIGHTS = "*.safetensors *.bin *.safetensors.index.json *.bin.index.json *.pt *.pth".split()
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "*.tiktoken")
MODELS_DIR_ENV = "SWIFTKIT_MODELS_DIR"


def baked_model(model_id: str, text: str, source: str) -> tuple[Path | None, Finding | None]:
    """A hub id's folder under $SWIFTKIT_MODELS_DIR (the container image sets /root), so a
    model baked into the image is used instead of a download; set but missing is an error
    that says how to provide the model."""
    models_dir = os.environ.get(MODELS_DIR_ENV, "").strip()
    if not models_dir:
        return None, None
    name = model_id.split(":")[0].rstrip("/").split("/")[-1]
    folder = Path(models_dir).expanduser() / name
    if (folder / "config.json").is_file():
        return folder.resolve(), None
    message = (
        f"model '{model_id}' is not in {folder} (${MODELS_DIR_ENV}={models_dir}: models are "
        "expected there, not downloaded)"
    )
    fix = (
        f"mount it (docker run -v /path/to/{name}:{folder} ...), or build the image with "
        f"--build-arg MODEL_ID={model_id} (add --build-arg USE_HF=1 for the Hugging Face hub), "
        f"or allow a download at run time with -e {MODELS_DIR_ENV}="
    )
    return None, keyed(source, text, ["model", "id"], message, fix)


def ships_code(folder: Path) -> str | None:
    """What in a model folder would run as code when loaded ('auto_map' in config.json or
    tokenizer_config.json, *.py files), or None. The one check behind every command that
    loads a model folder (run, infer, chat, verify, export, serve)."""
    found = [
        f"'auto_map' in {name}"
        for name in ("config.json", "tokenizer_config.json")
        if "auto_map" in (jsonl.json_object(folder / name) or {})
    ]
    with contextlib.suppress(OSError):
        found += sorted(p.name for p in folder.glob("*.py"))
    return ", ".join(found) or None


def refuse_model_code(folders: list[Path], trusted: bool, command: str) -> None:
    """Raise SwiftkitError naming the file when a model folder a command loads ships code and
    the user did not opt in (ms-swift loads with trust_remote_code=True: the code would run)."""
    from swiftkit.errors import SwiftkitError

    if trusted:
        return
    for folder in folders:
        what = ships_code(folder)
        if what:
            name = what.split(", ")[0].split(" in ")[-1]  # the file: config.json, or x.py
            raise SwiftkitError.at(
                f"the model folder ships code: {folder} (not loaded)",
                str(folder / name),
                f"{what}: ms-swift would run it with your permissions",
                fix=f"read the code first; if you trust it, add --trust-remote-code to the same "
                f"`swiftkit {command}` command (for `swiftkit run`: trust_remote_code = true "
                "under [model]); otherwise use a model folder without code",
            )


def model_folder_findings(folder: Path, model: ModelSpec, text: str, source: str) -> list[Finding]:
    """A local model folder holds config.json, weights and a tokenizer, and ships no code
    unless the recipe trusts it."""
    rows: list[tuple[Any, ...]]  # (wrong, message, fix[, field])
    if not folder.exists():
        fix = (
            "use a hub id such as Qwen/Qwen2.5-7B-Instruct, or download the model and give its "
            "folder (relative to the recipe or absolute)"
        )
        rows = [(not model.builds, f"model folder not found: {folder}", fix)]
    elif not folder.is_dir():
        rows = [(True, f"model path is not a folder: {folder}", "give the model's folder")]
    else:
        config, unreadable = folder / "config.json", None
        try:
            json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            unreadable = exc if config.is_file() else None
        what = ships_code(folder)
        rows = [
            (
                not config.is_file(),
                f"no config.json in the model folder {folder}",
                "point [model] id at the folder that holds config.json (a complete download)",
            ),
            (unreadable, f"{config} is not readable JSON: {unreadable}", "re-download the model"),
            (
                not any(any(folder.glob(p)) for p in WEIGHTS),
                f"no weights in the model folder {folder} (*.safetensors, *.bin or an index)",
                "the download is incomplete; fetch the weight files (git lfs pull, or "
                "`modelscope download`)",
            ),
            (
                not any(any(folder.glob(p)) for p in TOKENIZER_FILES),
                f"no tokenizer in the model folder {folder} (tokenizer.json, tokenizer.model "
                "or vocab.json)",
                "copy the tokenizer files from the base model into the folder",
            ),
            (
                what and not model.trust_remote_code,
                f"the model folder ships code ({what}); ms-swift loads every model with "
                "trust_remote_code=True, so training would run that code with your permissions",
                "read the code first; if you trust it, set trust_remote_code = true under "
                "[model]; otherwise use a model folder without code",
                "model.trust_remote_code",
            ),
        ]
    return [
        keyed(source, text, ["model", "id"], message, fix, field=more[0] if more else "model.id")
        for bad, message, fix, *more in rows
        if bad
    ]


def output_findings(train: TrainSpec, text: str, source: str) -> list[Finding]:
    """The output folder can exist, and exists and is writable or could be created; nothing is
    created."""
    if problem := path_problem(str(train.flags.get("output_dir", "output"))):
        message = f"output_dir cannot be a folder: {problem}"
        fix = "set output_dir under [train] to a shorter folder name"
        return [keyed(source, text, ["train", "output_dir"], message, fix)]
    output = train.output_dir
    probe = output
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    problem = None
    if not probe.is_dir():
        problem = f"{probe} exists and is not a folder"
    elif not os.access(probe, os.W_OK | os.X_OK):
        problem = f"{probe} is not writable by this user"
    else:
        # os.access says yes to root on read-only and virtual filesystems (/proc): a folder
        # made and removed at once is the test that `run` would pass.
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".swiftkit-probe-", dir=probe))
        except OSError as exc:
            problem = f"a folder cannot be made in {probe} ({exc.strerror or exc})"
    if problem is None:
        return []
    fix = "set output_dir under [train] to a folder you can write"
    message = f"output folder {output} cannot be written: {problem}"
    return [keyed(source, text, ["train", "output_dir"], message, fix)]


def version_findings(stop_when_verified: bool, text: str, source: str) -> list[Finding]:
    """Recipe features the installed ms-swift is too old for (data/compat.json "features"):
    refused here, naming the version, rather than failing after the model loads."""
    from swiftkit.msswift import compat

    need = compat.feature_needs("stop_when_verified") if stop_when_verified else None
    if need is None:
        return []
    message = (
        f"stop_when_verified needs ms-swift {need['since']} or newer; ms-swift "
        f"{need['installed']} is installed ({need['why']})"
    )
    fix = f"set stop_when_verified = false, or pip install 'ms-swift>={need['since']}'"
    return [keyed(source, text, need["key"], message, fix)]
