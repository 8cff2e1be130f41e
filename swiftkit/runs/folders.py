"""Run folders: one per `swiftkit run`, self-describing (manifest.json), holding ms-swift's
checkpoints directly (swiftkit passes --add_version false, so no timestamp to copy by hand).
Naming, checkpoints (latest, best, complete), the runs under an output folder, their status."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from swiftkit.errors import SwiftkitError
from swiftkit.runs.manifest import MANIFEST, Manifest

CKPT = re.compile(r"^checkpoint-(\d+)$")
DEFAULT_OUTPUT = Path("output")


def new_run_dir(output_dir: Path, stem: str, now: datetime | None = None) -> Path:
    """output/<recipe>-YYYYmmdd-HHMMSS, with a suffix if two runs start in the same second."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = output_dir / f"{stem}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = Path(f"{base}-{k}")
    return path


def is_run_folder(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def checkpoints(run_dir: Path) -> list[Path]:
    """checkpoint-N folders in step order (ignoring the last-checkpoint symlink)."""
    found: list[tuple[int, Path]] = []
    if not run_dir.is_dir():
        return []
    for child in run_dir.iterdir():
        m = CKPT.match(child.name)
        if m and child.is_dir() and not child.is_symlink():
            found.append((int(m.group(1)), child))
    return [p for _, p in sorted(found)]


def step_of(checkpoint: Path) -> int | None:
    m = CKPT.match(checkpoint.name)
    return int(m.group(1)) if m else None


def is_adapter(checkpoint: Path) -> bool:
    return (checkpoint / "adapter_config.json").is_file()


def is_model_folder(path: Path) -> bool:
    return is_adapter(path) or (path / "config.json").is_file()


def is_complete(checkpoint: Path) -> bool:
    """A checkpoint the trainer finished writing (trainer_state.json is saved last)."""
    return (checkpoint / "trainer_state.json").is_file()


def require_checkpoint(run_dir: Path) -> Path:
    """The newest checkpoint-N of the run; an error naming the folder when there is none."""
    found = checkpoints(run_dir)
    if not found:
        raise SwiftkitError.at(
            f"no checkpoint in {run_dir}",
            str(run_dir),
            "no checkpoint-N folder: the run stopped before its first save",
            fix="lower save_steps under [train], or run again",
        )
    return found[-1].resolve()


def best_checkpoint(run_dir: Path) -> Path | None:
    """ms-swift's best_model_checkpoint (only set when the run evaluates), from trainer_state."""
    for ckpt in reversed(checkpoints(run_dir)):
        try:
            state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        best = state.get("best_model_checkpoint") if isinstance(state, dict) else None
        if best:
            path = Path(best)
            return (path if path.is_absolute() else run_dir / path.name).resolve()
        return None
    return None


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists (a "running" manifest whose pid is gone crashed)."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(manifest: Manifest) -> str:
    """The manifest's status, with a dead "running" shown as "interrupted (crashed)"."""
    status = manifest.status or "unknown"
    if status == "running" and not pid_alive(manifest.pid):
        return "interrupted (crashed)"
    return status


def find_runs(output_dir: Path) -> list[Path]:
    """Run folders (those with a manifest.json) under output_dir, oldest first."""
    if not output_dir.is_dir():
        return []
    found = [p for p in output_dir.iterdir() if p.is_dir() and is_run_folder(p)]
    return sorted(found, key=lambda p: (Manifest.read(p).started or "", p.name))


def missing(path: Path, what: str, fix: str) -> SwiftkitError:
    return SwiftkitError.at(f"{what}: {path}", str(path), what, fix=fix)


def latest_run(output_dir: Path) -> Path:
    """The newest run under output_dir that has a checkpoint."""
    if not output_dir.is_dir():
        raise missing(
            output_dir,
            "output folder not found",
            "run `swiftkit run RECIPE` first, or point --output at the folder holding the runs",
        )
    all_runs = find_runs(output_dir)
    for run_dir in reversed(all_runs):
        if checkpoints(run_dir):
            return run_dir
    what = "no run with a checkpoint" if all_runs else "no run"
    raise missing(
        output_dir,
        f"{what} in the output folder",
        "run `swiftkit run RECIPE` first, or pass a run or checkpoint folder",
    )
