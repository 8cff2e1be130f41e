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
                Finding.error(
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


# ---- listing runs and resolving the run or checkpoint a command acts on ----

DEFAULT_OUTPUT = Path("output")


def pid_alive(pid: object) -> bool:
    """Whether a process with this id exists (a "running" manifest whose pid is gone crashed)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(manifest: dict) -> str:
    """The manifest's status, with a dead "running" shown as "interrupted (crashed)"."""
    status = str(manifest.get("status") or "unknown")
    if status == "running" and not pid_alive(manifest.get("pid")):
        return "interrupted (crashed)"
    return status


def find_runs(output_dir: Path) -> list[Path]:
    """Run folders (those with a manifest.json) under output_dir, oldest first."""
    if not output_dir.is_dir():
        return []
    found = [p for p in output_dir.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]

    def key(p: Path) -> tuple[str, str]:
        return (str(read_manifest(p).get("started") or ""), p.name)

    return sorted(found, key=key)


def is_complete(checkpoint: Path) -> bool:
    """A checkpoint the trainer finished writing (trainer_state.json is saved last)."""
    return (checkpoint / "trainer_state.json").is_file()


def best_checkpoint(run_dir: Path) -> Path | None:
    """ms-swift's best_model_checkpoint (only set when the run evaluates), from trainer_state."""
    for ckpt in reversed(checkpoints(run_dir)):
        try:
            state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        best = state.get("best_model_checkpoint")
        if best:
            path = Path(best)
            return (path if path.is_absolute() else run_dir / path.name).resolve()
        return None
    return None


def summary(run_dir: Path) -> dict:
    """One run as `swiftkit runs` shows it."""
    m = read_manifest(run_dir)
    found = checkpoints(run_dir)
    best = best_checkpoint(run_dir)
    verdict = m.get("verify")
    if isinstance(verdict, dict):
        verdict_text = verdict.get("verdict") or verdict.get("status") or verdict.get("result")
    else:
        verdict_text = verdict
    return {
        "run": str(run_dir.resolve()),
        "name": run_dir.name,
        "recipe": m.get("recipe"),
        "started": m.get("started"),
        "finished": m.get("finished"),
        "status": run_status(m),
        "steps": m.get("steps"),
        "max_steps": m.get("max_steps"),
        "last_loss": m.get("last_loss"),
        "verify": verdict,
        "verdict": verdict_text,
        "checkpoints": [str(c.resolve()) for c in found],
        "latest_checkpoint": str(found[-1].resolve()) if found else None,
        "best_checkpoint": str(best) if best else None,
        "resumed": m.get("resumed", []),
    }


def _missing(path: Path, what: str, fix: str) -> SwiftkitError:
    return SwiftkitError(f"{what}: {path}", [Finding.error(str(path), what, fix=fix)])


class Target:
    """What a command acts on: a checkpoint (adapter or full model) and the run holding it."""

    def __init__(self, checkpoint: Path, run_dir: Path | None):
        self.checkpoint = checkpoint
        self.run_dir = run_dir

    @property
    def adapter(self) -> bool:
        return is_adapter(self.checkpoint)

    def args(self) -> dict:
        """The checkpoint's args.json (base model, template, system), {} when absent."""
        try:
            return json.loads((self.checkpoint / "args.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def require_adapter(self, why: str) -> Target:
        if not self.adapter:
            raise SwiftkitError(
                f"not a LoRA adapter: {self.checkpoint}",
                [
                    Finding.error(
                        str(self.checkpoint),
                        f"no adapter_config.json: this is a full model or checkpoint; {why}",
                        fix="pass a run folder or one of its checkpoint-N folders",
                    )
                ],
            )
        return self


def is_model_folder(path: Path) -> bool:
    return is_adapter(path) or (path / "config.json").is_file()


def latest_run(output_dir: Path) -> Path:
    """The newest run under output_dir that has a checkpoint."""
    if not output_dir.is_dir():
        raise _missing(
            output_dir,
            "output folder not found",
            "run `swiftkit run RECIPE` first, or point --output at the folder holding the runs",
        )
    all_runs = find_runs(output_dir)
    for run_dir in reversed(all_runs):
        if checkpoints(run_dir):
            return run_dir
    what = "no run with a checkpoint" if all_runs else "no run"
    raise _missing(
        output_dir,
        f"{what} in the output folder",
        "run `swiftkit run RECIPE` first, or pass a run or checkpoint folder",
    )


def resolve(spec: str | None, output_dir: Path | None = None) -> Target:
    """`latest` (newest run under output_dir, ./output by default), a run folder, or a
    checkpoint/model folder -> the checkpoint to use. Errors name the path."""
    if spec in (None, "", "latest"):
        run_dir = latest_run((output_dir or DEFAULT_OUTPUT).resolve())
        return Target(require_checkpoint(run_dir), run_dir)
    path = Path(spec).expanduser().resolve()
    if not path.exists():
        raise _missing(path, "folder not found", "pass `latest`, a run folder or a checkpoint")
    if not path.is_dir():
        raise _missing(path, "not a folder", "pass a run folder or a checkpoint folder, not a file")
    if is_model_folder(path):
        parent = path.parent if (path.parent / MANIFEST).is_file() else None
        return Target(path, parent)
    if (path / MANIFEST).is_file() or checkpoints(path):
        return Target(require_checkpoint(path), path)
    raise _missing(
        path,
        "neither a run folder nor a checkpoint (no manifest.json, checkpoint-N, "
        "adapter_config.json or config.json)",
        "pass a folder under output/ or one of its checkpoint-N folders",
    )
