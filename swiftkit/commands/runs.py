"""`swiftkit runs`: every run, newest first, with its checkpoints: all the runs index knows
(made from any folder) and those in ./output, or the runs in one output folder. A running
run shows its live step and loss from logging.jsonl; one whose process is gone, "died"."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from swiftkit.errors import Echo, SwiftkitError
from swiftkit.msswift import events
from swiftkit.pipeline import folders, index
from swiftkit.pipeline.manifest import Manifest, Status, VerdictSummary


@dataclass(frozen=True)
class RunRow:
    """One run as `swiftkit runs` shows it (`--json` prints these fields)."""

    run: str
    name: str
    recipe: str | None
    started: str | None
    finished: str | None
    status: str
    steps: int | None
    max_steps: int | None
    last_loss: float | None
    verify: VerdictSummary | None
    checkpoints: list[str]
    latest_checkpoint: str | None
    best_checkpoint: str | None
    resumed: list[dict[str, Any]]

    @classmethod
    def of(cls, run_dir: Path) -> RunRow:
        m = Manifest.read(run_dir)
        found = [str(c.resolve()) for c in folders.checkpoints(run_dir)]
        best = folders.best_checkpoint(run_dir)
        status = folders.run_status(m)
        steps, max_steps, loss = m.steps, m.max_steps, m.last_loss
        if status in (Status.RUNNING, Status.DIED) or steps is None:
            # the manifest gets them when the run ends: until then (or when it never
            # ended) they come from ms-swift's own record
            logged = events.read_steps(events.log_path(run_dir))
            if logged:
                steps, max_steps, loss = logged[-1].step, logged[-1].max_steps, logged[-1].loss
        return cls(
            run=str(run_dir.resolve()),
            name=run_dir.name,
            recipe=m.recipe,
            started=m.started,
            finished=m.finished,
            status=status,
            steps=steps,
            max_steps=max_steps,
            last_loss=loss,
            verify=m.verify,
            checkpoints=found,
            latest_checkpoint=found[-1] if found else None,
            best_checkpoint=str(best) if best else None,
            resumed=[asdict(r) for r in m.resumed],
        )

    @property
    def verdict(self) -> str | None:
        return self.verify.verdict if self.verify else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            out[key] = value
            if key == "verify":  # the summary as the manifest keeps it, then its verdict
                out[key] = self.verify.to_dict() if self.verify else None
                out["verdict"] = self.verdict
        return out


def _short(path: str | None, run: str) -> str:
    if not path:
        return "-"
    return path[len(run) + 1 :] if path.startswith(run + "/") else path


def execute(output_dir: Path | None, echo: Echo, as_json: bool = False) -> int:
    if output_dir is not None and not output_dir.resolve().is_dir():
        out = output_dir.resolve()
        raise SwiftkitError.at(
            f"output folder not found: {out}",
            str(out),
            "no such folder",
            fix="pass the folder holding the runs, or nothing for every run",
        )
    listing = index.all_runs(output_dir)  # newest first, with notes (gone folders, a torn file)
    rows = [RunRow.of(r) for r in listing.runs]
    for note in listing.notes:  # stderr: the list on stdout stays what scripts parse
        print(note, file=sys.stderr)
    # indexed folders not there now (an unmounted disk?): listed, their index line kept
    gone = [{"run": str(r), "name": r.name, "status": "missing"} for r in listing.missing]
    if as_json:
        listed = [r.to_dict() for r in rows] + gone
        echo(json.dumps(listed, ensure_ascii=False, indent=2, default=str))
        return 0
    for g in gone:
        echo(f"{g['name']}  missing: {g['run']} is not there now (kept in the runs index)")
    if not rows and not gone:
        where = output_dir.resolve() if output_dir else f"{index.index_path()} or ./output"
        echo(f"no runs in {where}")
        return 0
    for r in rows:
        steps = f"{r.steps}/{r.max_steps}" if r.steps is not None else "-"
        loss = f"{r.last_loss:.4f}" if isinstance(r.last_loss, int | float) else "-"
        echo(f"{r.name}  {r.status}")
        echo(
            f"    started {r.started or '-'}  steps {steps}  loss {loss}"
            f"  verify {r.verdict if r.verdict is not None else '-'}"
        )
        echo(
            f"    latest {_short(r.latest_checkpoint, r.run)}"
            f"  best {_short(r.best_checkpoint, r.run)}  recipe {r.recipe or '-'}"
        )
    return 0


@click.command("runs")
@click.argument(
    "output_dir", metavar="[OUTPUT_DIR]", required=False, type=click.Path(path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="One JSON list, for scripts.")
def runs_command(output_dir: Path | None, as_json: bool) -> int:
    """List every run, newest first: recipe, start, status, steps, loss, verdict, checkpoints.
    Every run swiftkit made, from any folder (and those in ./output); with OUTPUT_DIR, only
    the runs in that folder."""
    return execute(output_dir, click.echo, as_json=as_json)
