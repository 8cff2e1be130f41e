"""Recipes: a TOML file, checked against a JSON schema and the files it names, merged with a
hardware preset, as a typed `Recipe` (recipe/model.py).

Loading never looks at the machine: a preset of "auto" and a dtype of "auto-by-gpu" stay open
until `machine.fit.bind` is given the machine (the pre-launch plan and `doctor` do that).
Every error names the recipe file, the line of the offending key and the key path.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from swiftkit.errors import Finding, SwiftkitError, errors_only
from swiftkit.recipe import checks, presets, value_checks
from swiftkit.recipe.model import (
    REAL_BUILDS,
    DatasetRef,
    DataSpec,
    Identity,
    LaunchSpec,
    ModelSpec,
    Recipe,
    TrainSpec,
    VerifySpec,
)
from swiftkit.recipe.parse import locate, parse_toml, schema_findings
from swiftkit.recipe.value_checks import keyed
from swiftkit.resources import user_folder

# owner/name, optionally hf:: or ms:: (which hub), :subset/subset and #N (ms-swift's syntax)
HUB_ID = re.compile(r"^((hf|ms)::)?[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w./-]+)?(#\d+)?$", re.I)
DATA_SUFFIXES = (".json", ".jsonl", ".csv")


def absolute(path: Path) -> Path:
    """The absolute path, ./.. folded, symlinks kept (my#3.json keeps its name; a symlink
    loop is named by not_a_file, where Path.resolve would raise)."""
    return Path(os.path.abspath(path))


def resolve_dataset(spec: str, base: Path) -> DatasetRef:
    """A local file (relative to the recipe) when it exists or looks like one, else a hub id.
    A file whose own name holds '#' (my#3.json) is that file, as ms-swift reads it."""
    whole = base / Path(spec).expanduser()
    head, _, count = ("", "", "") if _exists(whole) else spec.rpartition("#")
    head, count = (head, count) if head else (spec, "")
    sample = int(count) if count.isdigit() and len(count) < 10 else None
    if value_checks.path_problem(head):
        return DatasetRef(spec, path=base / "(unusable path)", sample=sample)
    candidate = base / Path(head).expanduser()
    local = _exists(candidate) or head.endswith(DATA_SUFFIXES) or head.startswith((".", "/", "~"))
    if not local and HUB_ID.match(spec):
        return DatasetRef(spec, hub_id=head, sample=sample)
    return DatasetRef(spec, path=absolute(candidate), sample=sample)


def _exists(path: Path) -> bool:
    """Path.exists, False for a path the filesystem refuses (too long, ...); True for a
    symlink, even a loop (not_a_file names it)."""
    try:
        return path.exists() or path.is_symlink()
    except (OSError, ValueError):
        return False


def _model(section: dict[str, Any], base: Path, text: str, source: str) -> tuple[ModelSpec, list]:
    model_id = str(section["id"])
    problem = value_checks.path_problem(model_id)
    if problem:
        message = f"model id cannot be a folder or a hub id: {problem}"
        fix = "a hub id such as Qwen/Qwen2.5-7B-Instruct, or the model's folder"
        return ModelSpec(id=model_id[:80]), [keyed(source, text, ["model", "id"], message, fix)]
    local = Path(model_id).expanduser()
    local = local if local.is_absolute() else base / local
    is_local = (
        _exists(local)
        or section.get("build") is not None
        or model_id.startswith((".", "/", "~"))
        or not HUB_ID.match(model_id)
    )
    path, finding = (
        (Path(os.path.realpath(local)), None)
        if is_local
        else checks.baked_model(model_id, text, source)
    )
    if section.get("build") in REAL_BUILDS:  # made once per machine, whatever the id says
        path = user_folder("cache") / "models" / section["build"]
    spec = ModelSpec(
        id=model_id,
        path=path,
        model_type=section.get("model_type"),
        template=section.get("template"),
        trust_remote_code=bool(section.get("trust_remote_code", False)),
        build=section.get("build"),
    )
    return spec, [finding] if finding else []


def check(path: Path) -> tuple[Recipe | None, list[Finding]]:
    """Load and check a recipe from its files alone; return it (None when unusable) and every
    finding."""
    path = Path(path)
    data, text = parse_toml(path)
    source = str(path)
    findings = value_checks.structure_findings(data, text, source)
    if errors_only(findings):
        return None, findings
    findings = schema_findings(data, text, source)
    if errors_only(findings):
        return None, findings
    base = path.resolve().parent
    own = dict(data.get("train", {}))
    preset_name = str(own.pop("preset", presets.AUTO))
    preset = None
    if preset_name != presets.AUTO:
        try:
            preset = presets.load(preset_name)
        except SwiftkitError as exc:
            moved = [
                replace(f, file=source, line=locate(text, ["train", "preset"]))
                for f in exc.findings
            ]
            return None, findings + moved
    model, found = _model(data["model"], base, text, source)
    findings += found
    refs = {
        key: tuple(resolve_dataset(spec, base) for spec in data["data"].get(key, []))
        for key in ("datasets", "val_datasets")
    }
    for key in refs:
        findings += value_checks.dataset_entry_findings(refs[key], key, text, source)
    launch = LaunchSpec(**data.get("launch", {}))
    train = TrainSpec(preset_name=preset_name, preset=preset, own=own, base_dir=base)
    findings += checks.launch_findings(launch, preset, text, source)
    findings += checks.train_flag_findings(own, text, source)
    findings += value_checks.train_value_findings(own, text, source, model.path, base)
    findings += checks.family_findings(model, text, source)
    if model.path is not None:
        findings += checks.model_folder_findings(model.path, model, text, source)
    findings += checks.output_findings(train, text, source)
    verify = VerifySpec.from_dict(data.get("verify"), base)
    findings += checks.version_findings(verify.enabled and verify.stop_when_verified, text, source)
    recipe = Recipe(
        path=path.resolve(),
        text=text,
        model=model,
        identity=Identity(**data.get("identity", {})),
        data=DataSpec(refs["datasets"], refs["val_datasets"]),
        train=train,
        launch=launch,
        verify=verify,
    )
    return recipe, findings


def load(path: Path) -> Recipe:
    """Load a recipe or raise SwiftkitError with every error found."""
    recipe, findings = check(path)
    errors = errors_only(findings)
    if errors or recipe is None:
        raise SwiftkitError(f"recipe {path} has {len(errors) or 1} error(s)", errors)
    return recipe
