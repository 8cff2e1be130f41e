"""`swiftkit validate PATH...`: every problem in recipes and datasets, located, in under a second.

Files only: this works on any machine (no GPU, no ms-swift import). The machine itself is
checked by `swiftkit run` (preflight).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from swiftkit import dataset, recipe
from swiftkit.errors import Finding, SwiftkitError
from swiftkit.render import compat

MAX_SHOWN = 200  # findings printed per file: enough to fix a batch, few enough to read
RECIPE_SUFFIXES = (".toml",)
DATASET_SUFFIXES = (".json", ".jsonl")


@dataclass
class Report:
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def shown(self, limit: int = MAX_SHOWN) -> list[Finding]:
        """The findings to print: at most `limit` per file (errors first), then a line per
        file saying how many more there are. The counts in summary() include them all."""
        by_file: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_file.setdefault(f.file, []).append(f)
        out = []
        for file, found in by_file.items():
            if len(found) <= limit:
                out += found
                continue
            ranked = [f for f in found if f.severity == "error"]
            ranked += [f for f in found if f.severity != "error"]
            out += sorted(ranked[:limit], key=lambda f: (f.line or 0, f.record or 0))
            out.append(
                Finding.note(
                    file,
                    f"... and {len(found) - limit} more finding(s) in this file not shown",
                    fix="fix the ones above and run `swiftkit validate` again (--json lists all)",
                )
            )
        return out

    def summary(self) -> str:
        n = len(self.files)
        state = "ok" if self.ok else "invalid"
        return (
            f"{state}: {len(self.errors)} error(s), {len(self.warnings)} warning(s) "
            f"in {n} file{'s' if n != 1 else ''}"
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "ok": self.ok,
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "files": self.files,
                "findings": [f.to_dict() for f in self.findings],
            },
            ensure_ascii=False,
            indent=2,
        )


def kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in RECIPE_SUFFIXES:
        return "recipe"
    if suffix in DATASET_SUFFIXES:
        return "dataset"
    return None


def world_size(rec: recipe.Recipe) -> int:
    """Processes that each take a batch: NPROC_PER_NODE, else [launch] nproc_per_node, else 1."""
    env = os.environ.get("NPROC_PER_NODE", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    launch = rec.raw.get("launch", {})
    value = launch.get("nproc_per_node", 1) if isinstance(launch, dict) else 1
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def _int(value: object, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


def recipe_data_findings(rec: recipe.Recipe) -> list[Finding]:
    """The recipe's local datasets checked as that recipe will train on them: placeholders
    from [identity], token length against max_length, enough records for one step."""
    findings: list[Finding] = []
    max_length = _int(rec.train.get("max_length"), 0) or None
    counter = dataset.TokenCounter(rec.model_path) if max_length else None
    usable = 0
    countable = True
    loaded: list[tuple[Path, list[dataset.Record]]] = []
    for ref in rec.datasets:
        if not ref.is_local:
            if ref.sample:
                usable += ref.sample
            else:
                countable = False  # a whole hub dataset: large enough, and not read here
            continue
        if not ref.path.is_file():
            countable = False  # reported by recipe.check
            continue
        records, found = dataset.check_file(ref.path, rec.identity, max_length, counter, rec.system)
        findings += found
        bad = {f.record for f in found if f.severity == "error"}
        loaded.append((ref.path, [r for r in records if r.number not in bad]))
        n = len([r for r in records if r.number not in bad])
        usable += min(n, ref.sample) if ref.sample else n
    findings += cross_file_conflicts(loaded)
    for ref in rec.val_datasets:  # evaluated, not trained on: same record checks, no counting
        if ref.is_local and ref.path.is_file():
            findings += dataset.check_file(ref.path, rec.identity, max_length, counter, rec.system)[
                1
            ]
    batch = _int(rec.train.get("per_device_train_batch_size"), 1)
    accum = _int(rec.train.get("gradient_accumulation_steps"), 16)  # ms-swift's default
    world = world_size(rec)
    needed = batch * accum * world
    data_errors = any(f.severity == "error" for f in findings)
    if countable and not data_errors and usable < needed:
        key = "gradient_accumulation_steps" if accum > 1 else "per_device_train_batch_size"
        # Measured on ms-swift 4.6 / transformers: 3 records at batch 1 x accumulation 16 train
        # one optimizer step over 3 records per epoch and exit 0, so this is a warning; with
        # no usable record at all there is nothing to train on.
        empty = usable == 0
        make = Finding.error if empty else Finding.warning
        findings.append(
            make(
                str(rec.path),
                f"{usable} usable record(s), fewer than one optimizer step takes: "
                f"per_device_train_batch_size {batch} x gradient_accumulation_steps {accum} x "
                f"{world} process(es) = {needed}"
                + ("" if empty else "; each epoch is a single step over fewer records")
                + (
                    f" ({key} comes from preset '{rec.preset.get('name')}')"
                    if key not in rec.raw.get("train", {})
                    else ""
                ),
                line=rec.line_of("train", key) or rec.line_of("data", "datasets"),
                field=f"train.{key}",
                fix=f"add records (at least {needed}), or lower {key} under [train] "
                "(the preset may set it)",
            )
        )
    return findings


def cross_file_conflicts(loaded: list[tuple[Path, list[dataset.Record]]]) -> list[Finding]:
    """One question answered differently in two of the recipe's files (within one file,
    dataset.check_file reports it)."""
    first: dict[tuple, tuple[Path, dataset.Record]] = {}
    findings = []
    for path, records in loaded:
        for rec in records:
            try:
                key = dataset._question_key(rec.value)
                answer = dataset._answer(rec.value).strip()
            except (KeyError, TypeError, AttributeError, IndexError):
                continue  # an invalid record past the findings cap
            if key not in first:
                first[key] = (path, rec)
                continue
            other_path, other = first[key]
            if other_path == path:
                continue
            if dataset._answer(other.value).strip() != answer:
                findings.append(
                    Finding.error(
                        str(path),
                        f"same question as record {other.number} of {other_path} (line "
                        f"{other.line}) with a different answer: the model would learn two "
                        "identities",
                        line=rec.line,
                        record=rec.number,
                        field="output" if key[0] == "alpaca" else "messages",
                        fix="keep one answer per question across the recipe's datasets",
                    )
                )
    return findings


def render_findings(rec: recipe.Recipe) -> list[Finding]:
    """What rendering the command would refuse (flags swiftkit sets itself, unknown model
    family), found without touching any file."""
    from swiftkit.render import sft

    try:
        sft.sft_flags(rec, rec.output_dir / "run", [], compat.target_version())
    except SwiftkitError as exc:
        return exc.findings or [Finding.error(str(rec.path), exc.message)]
    return []


def check_recipe(path: Path) -> list[Finding]:
    try:
        rec, findings = recipe.check(path)
    except SwiftkitError as exc:
        return exc.findings or [Finding.error(str(path), exc.message)]
    if rec is None:
        return findings
    if not [f for f in findings if f.severity == "error"]:
        findings += render_findings(rec)
    return findings + recipe_data_findings(rec)


def check_dataset(path: Path) -> list[Finding]:
    """A dataset on its own: no recipe, so {{NAME}}/{{AUTHOR}} are accepted unfilled and the
    length is not checked (validate the recipe for both)."""
    _, findings = dataset.check_file(path, identity=None)
    return findings


def run(paths: list[Path]) -> Report:
    report = Report()
    for path in paths:
        report.files.append(str(path))
        kind = kind_of(path)
        if kind == "recipe":
            report.findings += check_recipe(path)
        elif kind == "dataset":
            report.findings += check_dataset(path)
    return report
