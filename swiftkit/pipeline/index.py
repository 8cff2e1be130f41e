"""The runs index (runs.jsonl in the state folder): every run folder `swiftkit run` made, so
`runs` and `latest` find it from any folder. One JSON line per run, appended under an flock
on a separate lock file. Reading never fails: torn lines and gone folders are dropped, with a
note. A log of paths: a database would be more to trust than this."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from swiftkit import jsonl, resources
from swiftkit.pipeline import folders
from swiftkit.pipeline.manifest import Manifest, replace_atomically

INDEX = "runs.jsonl"


def state_dir() -> Path:
    return resources.user_folder("state")


def index_path() -> Path:
    return state_dir() / INDEX


@contextmanager
def _locked() -> Iterator[Path]:
    """The index path, locked (a separate file: a lock on a replaced file guards nothing)."""
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "runs.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder / INDEX
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def add(run_dir: Path, recipe: str | None = None, started: str | None = None) -> str | None:
    """Record a new run; a note when the index cannot be written (the run goes on)."""
    line = json.dumps({"run": str(run_dir.resolve()), "recipe": recipe, "started": started})
    try:
        with _locked() as path, open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError as exc:
        return (
            f"note: could not record the run in the runs index {index_path()}: "
            f"{exc.strerror or exc}; `swiftkit runs` lists it only from {run_dir.parent.parent}"
        )
    return None


@dataclass
class Listing:
    """Run folders, newest first, and what was noticed on the way (for stderr)."""

    runs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)  # indexed, not there now


def _read(path: Path) -> tuple[dict[Path, dict], int]:
    """The index's lines by run folder (first mention kept) and its unreadable line count."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return {}, 0
    values = [row.value if row.ok else None for row in jsonl.rows(text)]
    good = [
        v
        for v in values
        if isinstance(v, dict)
        and isinstance(r := v.get("run"), str)
        and r.startswith("/")
        and len(r) < 4096  # PATH_MAX: a longer one cannot be looked at
        and "\0" not in r
    ]
    rows: dict[Path, dict] = {}
    for v in good:
        rows.setdefault(Path(v["run"]), v)
    return rows, len(values) - len(good)


def indexed() -> Listing:
    """The indexed run folders that still exist; gone ones and torn lines dropped, with a note."""
    listing = Listing()
    path = index_path()
    try:
        runs, bad = _read(path)
    except OSError as exc:
        listing.notes.append(f"note: cannot read the runs index {path}: {exc.strerror or exc}")
        return listing
    # a folder not there now (an unmounted disk, a moved folder) keeps its line: listed missing
    listing.missing = [r for r in runs if not folders.is_run_folder(r)]
    listing.runs = [r for r in runs if r not in listing.missing]
    if bad:
        listing.notes.append(
            f"note: the runs index {path} had {bad} unreadable line(s) (a torn write?): "
            "rebuilt from the rest"
        )
        try:
            with _locked():  # re-read under the lock: a run added meanwhile stays
                current, _ = _read(path)
                text = "".join(json.dumps(row) + "\n" for row in current.values())
                replace_atomically(path, text)
        except OSError as exc:
            listing.notes.append(f"note: could not rewrite {path}: {exc.strerror or exc}")
    return listing


def started_key(run_dir: Path) -> float:
    """When the run started (the manifest's time, else the folder's), for newest-first order."""
    with contextlib.suppress(ValueError, TypeError):
        return datetime.fromisoformat(Manifest.read(run_dir).started or "").timestamp()
    try:
        return run_dir.stat().st_mtime
    except OSError:
        return 0.0


def all_runs(output_dir: Path | None = None) -> Listing:
    """Newest first: under `output_dir` when given, else indexed ones plus those under ./output."""
    if output_dir is not None:
        listing = Listing(folders.find_runs(output_dir.resolve()))
    else:
        listing = indexed()
        local = folders.find_runs(folders.DEFAULT_OUTPUT.resolve())
        listing.runs = list(dict.fromkeys([*(r.resolve() for r in listing.runs), *local]))
    listing.runs.sort(key=lambda r: (started_key(r), r.name), reverse=True)
    return listing
