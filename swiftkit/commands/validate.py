"""`swiftkit validate PATH...`: every problem in recipes and datasets, located, in under a second.

Files only: this works on any machine (no GPU, no ms-swift import). The machine itself is
checked by `swiftkit run` (preflight).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import click

from swiftkit import dataset, recipe
from swiftkit.dataset.duplicates import Seen, cross_file_conflicts
from swiftkit.errors import Finding, SwiftkitError
from swiftkit.pipeline import checks

MAX_SHOWN = 200  # findings printed per file: enough to fix a batch, few enough to read
KINDS = {".toml": "recipe", ".json": "dataset", ".jsonl": "dataset"}  # by suffix, any case


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
            ranked = sorted(found, key=lambda f: f.severity != "error")  # stable: errors first
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


def check_recipe(path: Path) -> list[Finding]:
    try:
        rec, findings = recipe.check(path)
    except SwiftkitError as exc:
        return exc.findings or [Finding.error(str(path), exc.message)]
    if rec is None:
        return findings
    if rec.train.preset is None:
        findings.append(
            Finding.note(
                str(path),
                "preset auto: the machine that runs the recipe picks the preset; checked here "
                "with the recipe's own [train] values and ms-swift's defaults",
                fix="`swiftkit doctor` shows what auto picks on a machine",
            )
        )
    return findings + checks.recipe_findings(rec)  # as `swiftkit run` checks it (plan.checked)


def check_dataset(path: Path, seen: list[Seen]) -> list[Finding]:
    """A dataset on its own: no recipe, so {{NAME}}/{{AUTHOR}} are accepted unfilled and the
    length is not checked (validate the recipe for both). Its questions go to `seen`."""
    checked = dataset.check_file(path, identity=None)
    seen.append(checked.seen)
    return checked.result()


INTERNAL = "swiftkit could not check this file"


def check(path: Path, seen: list[Seen] | None = None) -> list[Finding]:
    """The findings for one file. `validate` never raises: an input the checks above did not
    foresee still ends as a finding (exit 1) rather than a traceback; the fuzz tests
    (tests/test_validate_fuzz.py) assert that this never happens."""
    kind = KINDS.get(path.suffix.lower())
    try:
        if kind == "recipe":
            return check_recipe(path)
        if kind == "dataset":
            return check_dataset(path, [] if seen is None else seen)
    except (Exception, RecursionError) as exc:  # the last resort stated above
        return [
            Finding.error(
                str(path),
                f"{INTERNAL}: {type(exc).__name__}: {str(exc)[:200]}",
                fix="this is a swiftkit bug: please report it with the file",
            )
        ]
    return []


def run(paths: list[Path]) -> Report:
    """Every file, then one question answered two ways across the dataset files given."""
    report, seen = Report(), list[Seen]()
    for path in paths:
        report.files.append(str(path))
        report.findings += check(path, seen)
    report.findings += cross_file_conflicts(seen)
    return report


@click.command("validate")
@click.argument(
    "paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def validate_command(paths: tuple[Path, ...], as_json: bool) -> int:
    """Check recipes (.toml) and datasets (.json, .jsonl) without training.

    Exit 0 valid (warnings allowed), 1 invalid, 2 usage error.
    """
    for path in paths:
        if path.suffix.lower() not in KINDS:
            raise click.UsageError(
                f"{path}: expected a recipe (.toml) or a dataset (.json, .jsonl)"
            )
    report = run(list(paths))
    if as_json:
        click.echo(report.to_json())
    else:
        for finding in report.shown():
            click.echo(finding.format())
        click.echo(report.summary())
    return 0 if report.ok else 1


@click.command("schema")
@click.argument("name", type=click.Choice(["identity", "recipe"]))
def schema_command(name: str) -> int:
    """Print a JSON schema: identity (one dataset record) or recipe."""
    from swiftkit.resources import SCHEMAS

    click.echo((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8").rstrip())
    return 0
