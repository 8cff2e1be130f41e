"""`swiftkit run RECIPE`: check everything, launch `swift sft`, watch it, find the checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from swiftkit.errors import Finding, SwiftkitError, write_failed
from swiftkit.msswift import argv as helpers
from swiftkit.msswift import compat, events
from swiftkit.msswift.command import shell_line
from swiftkit.pipeline import folders, launch, manifest
from swiftkit.pipeline import progress as live
from swiftkit.pipeline.manifest import Manifest, Resumed, VerdictSummary, now_iso
from swiftkit.pipeline.plan import Plan, line_plan, plan, resume_plan, write_new_run
from swiftkit.pipeline.resolve import resolve
from swiftkit.pipeline.stopcheck import stop_checks
from swiftkit.verify.report import NONE, PASS, VerifyReport
from swiftkit.verify.verdict import verify

Echo = Callable[[str], None]


def preflight(p: Plan) -> None:
    """What the machine must offer before launch: ms-swift in range, a writable output folder."""
    from swiftkit.machine import fit  # GPUs, memory, processes, hub access

    fit.require_fit(p.recipe)
    compat.require_supported()
    out = p.recipe.output_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".swiftkit-write-test-"):
            pass
    except OSError as exc:
        raise SwiftkitError(
            f"output folder is not writable: {out}",
            [
                Finding.error(
                    str(p.recipe.path),
                    exc.strerror or str(exc),
                    line=p.recipe.line_of("train", "output_dir"),
                    field="train.output_dir",
                    fix="set output_dir under [train] to a folder you can write",
                )
            ],
        ) from None


def ensure_tiny_model(p: Plan, echo: Echo) -> None:
    rec = p.recipe
    if not rec.model.builds_tiny or rec.model.path is None:
        return
    if (rec.model.path / "config.json").is_file():
        check_tiny_shape(rec.model.path, rec.model.build or "tiny")
        return
    echo(f"building the tiny test model at {rec.model.path} (first use only)")
    build_tiny_model(rec.model.path, rec.model.build or "tiny")


def check_tiny_shape(folder: Path, shape: str) -> None:
    """A model swiftkit built earlier with another `build` shape (the recipe was edited after
    its first run) is refused: training it would silently use the old shape."""
    from swiftkit.tinymodel import SHAPES, TINY_CONFIG

    marker = folder / "swiftkit-tiny.json"
    try:
        built = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # not built by swiftkit (a model put there by hand): used as it is
    wanted = {**TINY_CONFIG, **SHAPES.get(shape, {})}
    differ = sorted(k for k, v in wanted.items() if isinstance(built, dict) and built.get(k) != v)
    if differ:
        raise SwiftkitError(
            f'{folder} was built with another shape than build = "{shape}"',
            [
                Finding.error(
                    str(marker),
                    ", ".join(f"{k} {built.get(k)} (wanted {wanted[k]})" for k in differ),
                    fix=f"delete {folder} and run again: it is rebuilt as {shape}",
                )
            ],
        )


def build_tiny_model(target: Path, shape: str = "tiny") -> None:
    """Build the tiny model of that shape (swiftkit/tinymodel.py's SHAPES) in a temp folder,
    then rename: an interrupted build leaves nothing half made."""
    if target.exists() and any(target.iterdir()):
        raise SwiftkitError(
            f"{target} exists and is not empty",
            [Finding.error(str(target), "refusing to overwrite", fix="choose a new folder")],
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    proc = subprocess.run(
        [sys.executable, "-m", "swiftkit.tinymodel", str(tmp), shape],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SwiftkitError(
            "building the tiny model failed",
            [Finding.error(str(target), proc.stderr.strip()[-2000:] or "no output")],
        )
    if target.exists():
        target.rmdir()
    os.replace(tmp, target)


def paste_plan(recipe_path: Path, note: Echo) -> Plan:
    """The line `render` and `run --dry-run` print, with everything it reads in place: the
    filled data copies (plan.line_plan) and the tiny model when the recipe builds it."""
    p = line_plan(recipe_path)
    ensure_tiny_model(p, note)
    return p


def execute(
    recipe_path: Path, echo: Echo, dry_run: bool = False, check: bool = True, resume: bool = False
) -> int:
    if dry_run and not resume:
        p = paste_plan(recipe_path, echo)
        for w in p.warnings:
            echo(w.format())
        echo(p.command.shell())
        return 0
    p = resume_plan(recipe_path) if resume else plan(recipe_path)
    for w in p.warnings:
        echo(w.format())
    if dry_run:
        echo(p.command.shell())
        return 0
    preflight(p)
    ensure_tiny_model(p, echo)
    if resume:
        resumed = [*Manifest.read(p.run_dir).resumed, Resumed(now_iso(), p.command.argv)]
        manifest.update(p.run_dir, status="running", resumed=resumed, **folders.this_process())
        echo(f"resuming from {p.command.argv[-1]}")
    else:
        p, note = write_new_run(p)
        if note:
            echo(note)
    echo(f"run: {p.run_dir}")
    echo(f"command: {p.command.shell()}")
    # ms-swift drops rows it cannot read without stopping: compare what it kept with the
    # rows of the data copies and stop the run on a difference (issue 13).
    sent = {copy: sum(1 for _ in copy.open("rb")) for _, copy in p.data if copy and copy.is_file()}
    watch = events.DropWatch(p.run_dir / "swift.log", sent)
    try:
        # on resume only the new steps are shown; the earlier ones are in logging.jsonl already
        with live.start(events.log_path(p.run_dir), echo, resume=resume) as progress:

            def tick() -> None:
                progress.tick()
                watch.check()  # raises RecordsDropped: never_running marks the run failed

            log = p.run_dir / "swift.log"
            result = launch.run(p.command, log_path=log, on_tick=tick)
            if result.log_error is not None:
                echo(write_failed(log, result.log_error).format().replace("error:", "warning:"))
            return after_training(p, result, progress, check)
    except BaseException as exc:
        never_running(p.run_dir, exc)
        raise


def never_running(run_dir: Path, exc: BaseException) -> None:
    """Whatever stopped swiftkit itself (a full disk, Ctrl-C before the child started, a bug),
    the manifest must not go on claiming "running". Best effort: if even this write fails,
    the manifest's pid, gone once this process exits, makes `runs` show the run as died."""
    if Manifest.read(run_dir).status != "running":
        return
    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    try:
        manifest.update(run_dir, status=status, finished=now_iso())
    except (OSError, SwiftkitError):
        pass


def after_training(p: Plan, result: launch.Result, progress: live.Progress, check: bool) -> int:
    """Record how the run ended, find the checkpoint, verify it; the exit code."""
    progress.end_training()
    echo = progress.echo
    last = progress.last

    def ended(status: str, checkpoint: Path | None = None) -> None:
        manifest.update(
            p.run_dir,
            status=status,
            finished=now_iso(),
            returncode=result.returncode,
            seconds=round(result.seconds, 1),
            steps=last.step if last else None,
            max_steps=last.max_steps if last else None,
            last_loss=last.loss if last else None,
            **({"checkpoint": str(checkpoint)} if checkpoint else {}),
        )

    if result.interrupted:
        kept = folders.checkpoints(p.run_dir)
        ended("interrupted")
        echo(f"interrupted: {len(kept)} checkpoint(s) kept in {p.run_dir}")
        for c in kept:
            echo(f"  {c}")
        if kept:
            echo(f"continue with: {shell_line('swiftkit', 'run', p.run_dir, '--resume')}")
        return 130
    if result.returncode != 0:
        ended("failed")
        echo(f"ms-swift failed with exit code {result.returncode}; the last lines of its output:")
        for line in result.tail[-20:]:
            echo("    " + line)
        advice = events.diagnose(result.tail)
        if advice:
            echo(f"what happened: {advice.title}")
            echo(f"what to do: {advice.advice}")
            if advice.id == "no-space":  # ms-swift names no path: the run folder is its disk
                free = shutil.disk_usage(p.run_dir).free // 2**20
                echo(f"no space left on device: {p.run_dir} ({free} MiB free now)")
        echo(f"full log: {p.run_dir / 'swift.log'}")
        return 1
    found = events.last_checkpoint(events.log_path(p.run_dir))
    ckpt = found or folders.require_checkpoint(p.run_dir)
    ended("finished", ckpt)
    echo(f"checkpoint: {ckpt}")
    stopped = [c for c in stop_checks(p.run_dir) if c.stops]
    if stopped:
        total = last.max_steps if last else None
        echo(f"stopped when verified at step {stopped[0].step} (of {total})")
    verdict = None
    if check and p.recipe.verify.enabled:
        report = check_identity(p.run_dir, ckpt, progress)
        verdict = report.verdict if report else NONE
    echo("next: chat with it (or serve it, merge it: `swiftkit --help`):")
    echo(f"  {shell_line('swiftkit', 'chat', ckpt)}")
    echo(f"  {helpers.render_chat(ckpt).shell()}")
    if verdict not in (None, PASS):
        # the checkpoint is kept, but a script chaining `run && serve` must not go on
        echo("the identity did not verify: exit 1 (train longer, or see the report)")
        return 1
    return 0


def check_identity(run_dir: Path, ckpt: Path, progress: live.Progress) -> VerifyReport | None:
    """Verify the checkpoint, say plainly whether the identity holds, record it in the
    manifest. A verify that cannot run is reported, never counted as a pass."""
    echo = progress.echo
    progress.status("verifying: identity probes on the base model and on the adapter ...")
    try:
        with launch.stoppable():  # Ctrl-C or SIGTERM stop the verify child too: exit 130
            report = verify(resolve(ckpt), status=progress.status)
    except SwiftkitError as exc:
        progress.status(None)
        manifest.update(run_dir, verify=VerdictSummary(NONE, error=exc.message))
        echo(f"identity: NO VERDICT ({exc.message})")
        echo(exc.format())
        return None
    progress.status(None)
    for row in [r for r in report.probes if r.set == "identity"][:3]:
        echo(f"  Q: {row.question}")
        echo(f"  A: {row.adapter}")
    manifest.update(run_dir, verify=report.summary())
    echo(report.headline())
    echo(f"report: {run_dir / 'report.md'}")
    return report
