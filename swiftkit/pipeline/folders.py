"""Run folders: one per `swiftkit run`, with its manifest.json and ms-swift's checkpoints
directly inside (--add_version false). Naming, checkpoints, the runs of a folder, status."""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from swiftkit import jsonl
from swiftkit.errors import SwiftkitError, write_failed
from swiftkit.pipeline.manifest import MANIFEST, Manifest, Status
from swiftkit.recipe.model import Recipe

CKPT = re.compile(r"^checkpoint-(\d+)$")
DEFAULT_OUTPUT = Path("output")
GENERIC_STEMS = {"recipe", "config", "train", "swiftkit", "run"}


def slug(text: str) -> str:
    """A folder-name-safe lower-case form of a name ("Swift Robot!" -> "swift-robot")."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-._").lower()[:40]


def run_stem(rec: Recipe) -> str:
    """The recipe file's name unless generic (recipe.toml), else the identity's, the folder's."""
    candidates = (
        "" if rec.path.stem.lower() in GENERIC_STEMS else rec.path.stem,
        rec.identity.name or "",
        rec.path.resolve().parent.name,
        rec.path.stem,
    )
    return next((slug(c) for c in candidates if slug(c)), "run")


def new_run_dir(output_dir: Path, stem: str, now: datetime | None = None) -> Path:
    """output/<stem>-YYYYmmdd-HHMMSS: a proposal, printed before anything is written."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return output_dir / f"{stem}-{stamp}"


def claim_run_dir(proposed: Path) -> Path:
    """Create `proposed`, else `-2`, `-3`...: os.mkdir is the atomic test-and-set (no race)."""
    try:
        proposed.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(proposed.parent, exc) from None
    for k in range(1, 1000):
        path = proposed if k == 1 else proposed.parent / f"{proposed.name}-{k}"
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            pass
        except OSError as exc:
            raise write_failed(path, exc) from None
    raise SwiftkitError.at(
        f"cannot create a run folder next to {proposed}",
        str(proposed.parent),
        "999 folders of that name exist",
        fix="move old runs away",
    )


def is_run_folder(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def checkpoints(run_dir: Path) -> list[Path]:
    """checkpoint-N folders in step order (ignoring the last-checkpoint symlink)."""
    if not run_dir.is_dir():
        return []
    found = [
        c for c in run_dir.iterdir() if CKPT.match(c.name) and c.is_dir() and not c.is_symlink()
    ]
    return sorted(found, key=lambda c: (step_of(c) or 0, c))


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
    """ms-swift's best_model_checkpoint (set when the run evaluates), from trainer_state."""
    states = (jsonl.json_object(c / "trainer_state.json") for c in reversed(checkpoints(run_dir)))
    best = next((s for s in states if s is not None), {}).get("best_model_checkpoint")
    if not best:
        return None
    path = Path(best)
    return (path if path.is_absolute() else run_dir / path.name).resolve()


def process_start(pid: int) -> int | None:
    """The process's start (clock ticks since boot): a reused pid is not the run. None: unknown."""
    import psutil  # type: ignore[import-untyped]

    try:
        since_boot = psutil.Process(pid).create_time() - psutil.boot_time()
    except (psutil.Error, OSError, ValueError):
        return None
    return round(since_boot * os.sysconf("SC_CLK_TCK"))


class ProcessFields(TypedDict):
    pid: int
    pid_start: int | None
    host: str


def this_process() -> ProcessFields:
    """The manifest fields that let `runs` tell whether the run's process is still there."""
    pid = os.getpid()
    return {"pid": pid, "pid_start": process_start(pid), "host": socket.gethostname()}


def run_status(manifest: Manifest) -> Status:
    """The manifest's status; "running" with its process gone is "died" (unless on another host)."""
    status = manifest.status or Status.UNKNOWN
    if status != Status.RUNNING or (manifest.host and manifest.host != socket.gethostname()):
        return status
    import psutil

    if manifest.pid is None or manifest.pid <= 0 or not psutil.pid_exists(manifest.pid):
        return Status.DIED
    now = process_start(manifest.pid) if manifest.pid_start is not None else None
    if now is not None and now != manifest.pid_start:
        return Status.DIED  # the pid now belongs to another process
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
