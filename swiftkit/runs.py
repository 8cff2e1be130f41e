"""Run folders: one per `swiftkit run`, self-describing (manifest.json), holding ms-swift's
checkpoints directly (swiftkit passes --add_version false, so no timestamp to copy by hand)."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

from swiftkit.errors import Finding, SwiftkitError

MANIFEST = "manifest.json"
CKPT = re.compile(r"^checkpoint-(\d+)$")


def new_run_dir(output_dir: Path, stem: str, now: datetime | None = None) -> Path:
    """output/<recipe>-YYYYmmdd-HHMMSS, with a suffix if two runs start in the same second."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = output_dir / f"{stem}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = Path(f"{base}-{k}")
    return path


def write_manifest(run_dir: Path, data: dict) -> None:
    """Write atomically, so a crash never leaves half a manifest."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / MANIFEST)


def read_manifest(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def update_manifest(run_dir: Path, **changes) -> dict:
    data = read_manifest(run_dir)
    data.update(changes)
    write_manifest(run_dir, data)
    return data


def checkpoints(run_dir: Path) -> list[Path]:
    """checkpoint-N folders in step order (ignoring the last-checkpoint symlink)."""
    found = []
    if not run_dir.is_dir():
        return found
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


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1].resolve() if found else None


def require_checkpoint(run_dir: Path) -> Path:
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise SwiftkitError(
            f"no checkpoint in {run_dir}",
            [
                Finding(
                    "error",
                    str(run_dir),
                    "no checkpoint-N folder: the run stopped before its first save",
                    fix="lower save_steps under [train], or run again",
                )
            ],
        )
    return ckpt


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def elapsed_since(start: float) -> float:
    return round(time.monotonic() - start, 2)
