"""The one answer to "which checkpoint?", for every command: `latest`, a run folder, or a
checkpoint/model folder -> a `Target`. Errors name the path."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swiftkit.errors import SwiftkitError
from swiftkit.msswift.args import CheckpointArgs, args_path, missing
from swiftkit.pipeline import folders, index
from swiftkit.pipeline.manifest import Manifest


@dataclass(frozen=True)
class Target:
    """A checkpoint (adapter or full model) and the run holding it."""

    checkpoint: Path
    run_dir: Path | None
    notes: tuple[str, ...] = field(default=(), compare=False)  # from the runs index

    def using(self) -> str:
        """The one line every command prints: which run and checkpoint it acts on."""
        if self.run_dir is None:
            return f"using checkpoint: {self.checkpoint}"
        inside = self.checkpoint.parent.resolve() == self.run_dir.resolve()
        name = self.checkpoint.name if inside else str(self.checkpoint)
        return f"using run: {self.run_dir} ({name})"

    @property
    def adapter(self) -> bool:
        return folders.is_adapter(self.checkpoint)

    @property
    def folder(self) -> Path:
        """Where results about it go: the run folder, else the checkpoint itself."""
        return self.run_dir or self.checkpoint

    def manifest(self) -> Manifest:
        return Manifest.read(self.run_dir) if self.run_dir else Manifest()

    def args(self) -> CheckpointArgs:
        """args.json (base model, template, system); empty when absent."""
        return CheckpointArgs.read(self.checkpoint)

    def require_args(self) -> CheckpointArgs:
        if not args_path(self.checkpoint).is_file():
            raise missing(self.checkpoint)
        return self.args()

    def require_adapter(self, why: str) -> Target:
        if not self.adapter:
            raise SwiftkitError.at(
                f"not a LoRA adapter: {self.checkpoint}",
                str(self.checkpoint),
                f"no adapter_config.json: this is a full model or checkpoint; {why}",
                fix="pass a run folder or one of its checkpoint-N folders",
            )
        return self


def run_checkpoint(run_dir: Path) -> Path:
    """The checkpoint `swiftkit run` recorded (the verified one) if still there, else the newest."""
    recorded = Manifest.read(run_dir).checkpoint
    if recorded and Path(recorded).is_dir():
        return Path(recorded).resolve()
    return folders.require_checkpoint(run_dir)


def announce(target: Target, echo: Callable[[str], None] | None = None) -> None:
    """The index's notes and the `using run:` line, to `echo` or else stderr (stdout: JSON)."""
    for line in [*target.notes, target.using()]:
        (echo or (lambda text: print(text, file=sys.stderr)))(line)


def resolve(spec: str | Path | None, output_dir: Path | None = None) -> Target:
    """`latest` (the newest run with a checkpoint: under output_dir when given, else any run
    the index knows or under ./output), a run folder, or a checkpoint/model folder."""
    if spec in (None, "", "latest"):
        if output_dir is not None:
            run_dir = folders.latest_run(output_dir.resolve())
            return Target(run_checkpoint(run_dir), run_dir)
        listing = index.all_runs()
        for run_dir in listing.runs:
            if folders.checkpoints(run_dir):
                return Target(run_checkpoint(run_dir), run_dir, tuple(listing.notes))
        what = "no run with a checkpoint" if listing.runs else "no run"
        raise SwiftkitError.at(
            f"{what} yet",
            str(index.index_path()),
            f"{what} in the runs index or under {folders.DEFAULT_OUTPUT.resolve()}",
            fix="run `swiftkit run RECIPE` first, or pass a run or checkpoint folder",
        )
    path = Path(str(spec)).expanduser().resolve()
    if not path.exists():
        raise folders.missing(
            path, "folder not found", "pass `latest`, a run folder or a checkpoint"
        )
    if not path.is_dir():
        fix = "pass a run folder or a checkpoint folder, not a file"
        raise folders.missing(path, "not a folder", fix)
    if folders.is_model_folder(path) or folders.step_of(path) is not None:
        if not folders.is_model_folder(path) and not args_path(path).is_file():
            raise missing(path)  # a checkpoint-N that holds nothing to load
        parent = path.parent if folders.is_run_folder(path.parent) else None
        return Target(path, parent)
    if folders.is_run_folder(path) or folders.checkpoints(path):
        return Target(run_checkpoint(path), path)
    raise SwiftkitError.at(
        f"no checkpoint in {path}",
        str(path),
        "neither a run folder nor a checkpoint (no manifest.json, checkpoint-N, "
        "adapter_config.json or config.json)",
        fix="pass a folder under output/ or one of its checkpoint-N folders",
    )
