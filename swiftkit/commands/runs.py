"""`swiftkit runs`: every run under an output folder, newest last, with its checkpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from swiftkit import runs
from swiftkit.errors import Finding, SwiftkitError

Echo = Callable[[str], None]


def collect(output_dir: Path) -> list[dict]:
    out = output_dir.resolve()
    if not out.is_dir():
        raise SwiftkitError(
            f"output folder not found: {out}",
            [Finding.error(str(out), "no such folder", fix="pass the folder holding the runs")],
        )
    return [runs.summary(r) for r in runs.find_runs(out)]


def _short(path: str | None, run: str) -> str:
    if not path:
        return "-"
    return path[len(run) + 1 :] if path.startswith(run + "/") else path


def table(rows: list[dict]) -> list[str]:
    lines = []
    for r in rows:
        steps = f"{r['steps']}/{r['max_steps']}" if r["steps"] is not None else "-"
        loss = f"{r['last_loss']:.4f}" if isinstance(r["last_loss"], (int, float)) else "-"
        lines.append(f"{r['name']}  {r['status']}")
        lines.append(
            f"    started {r['started'] or '-'}  steps {steps}  loss {loss}"
            f"  verify {r['verdict'] if r['verdict'] is not None else '-'}"
        )
        lines.append(
            f"    latest {_short(r['latest_checkpoint'], r['run'])}"
            f"  best {_short(r['best_checkpoint'], r['run'])}"
            f"  recipe {r['recipe'] or '-'}"
        )
    return lines


def execute(output_dir: Path, echo: Echo, as_json: bool = False) -> int:
    rows = collect(output_dir)
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        echo(f"no runs in {output_dir.resolve()}")
        return 0
    for line in table(rows):
        echo(line)
    return 0
