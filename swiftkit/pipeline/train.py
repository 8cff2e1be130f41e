"""`swiftkit run` once the plan is made: launch `swift sft`, watch its progress and the rows
it drops, record how it ended in the manifest, find the checkpoint and verify it."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from swiftkit.errors import SwiftkitError, write_failed
from swiftkit.msswift import argv as helpers
from swiftkit.msswift import events
from swiftkit.msswift.command import shell_line
from swiftkit.pipeline import checks, folders, launch, manifest
from swiftkit.pipeline import progress as live
from swiftkit.pipeline.manifest import Manifest, Resumed, Status, Verdict, VerdictSummary, now_iso
from swiftkit.pipeline.plan import Plan, write_new_run
from swiftkit.pipeline.resolve import resolve
from swiftkit.pipeline.stopcheck import stop_checks
from swiftkit.verify.report import VerifyReport
from swiftkit.verify.verdict import verify


def start(p: Plan, echo: live.Echo, check: bool = True, resume: bool = False) -> int:
    checks.preflight(p.recipe)
    checks.ensure_tiny_model(p.recipe, echo)
    if resume:
        resumed = [*Manifest.read(p.run_dir).resumed, Resumed(now_iso(), p.command.argv)]
        manifest.update(p.run_dir, status=Status.RUNNING, resumed=resumed, **folders.this_process())
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
    log = p.run_dir / "swift.log"
    watch = events.DropWatch(log, sent)
    try:
        # on resume only the new steps are shown; the earlier ones are in logging.jsonl already
        with live.start(events.log_path(p.run_dir), echo, resume=resume) as progress:

            def tick() -> None:
                progress.tick()
                watch.check()  # raises RecordsDropped: never_running marks the run failed

            result = launch.run(p.command, log_path=log, on_tick=tick)
            if result.log_error is not None:
                echo(write_failed(log, result.log_error).format().replace("error:", "warning:"))
            return after_training(p, result, progress, check)
    except BaseException as exc:
        never_running(p.run_dir, exc)
        raise


def never_running(run_dir: Path, exc: BaseException) -> None:
    """Whatever stopped swiftkit itself (a full disk, Ctrl-C, a bug), the manifest must not
    go on claiming "running". Best effort: if this write fails too, the manifest's pid, gone
    once this process exits, makes `runs` show the run as died."""
    if Manifest.read(run_dir).status != Status.RUNNING:
        return
    status = Status.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else Status.FAILED
    with contextlib.suppress(OSError, SwiftkitError):
        manifest.update(run_dir, status=status, finished=now_iso())


def after_training(p: Plan, result: launch.Result, progress: live.Progress, check: bool) -> int:
    progress.end_training()
    echo, last = progress.echo, progress.last

    def ended(status: Status, checkpoint: Path | None = None) -> None:
        changes: manifest.Changes = {
            "status": status,
            "finished": now_iso(),
            "returncode": result.returncode,
            "seconds": round(result.seconds, 1),
            "steps": last.step if last else None,
            "max_steps": last.max_steps if last else None,
            "last_loss": last.loss if last else None,
        }
        if checkpoint:
            changes["checkpoint"] = str(checkpoint)
        manifest.update(p.run_dir, **changes)

    if result.interrupted:
        kept = folders.checkpoints(p.run_dir)
        ended(Status.INTERRUPTED)
        echo(f"interrupted: {len(kept)} checkpoint(s) kept in {p.run_dir}")
        for c in kept:
            echo(f"  {c}")
        if kept:
            echo(f"continue with: {shell_line('swiftkit', 'run', p.run_dir, '--resume')}")
        return 130
    if result.returncode != 0:
        ended(Status.FAILED)
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
    ended(Status.FINISHED, ckpt)
    echo(f"checkpoint: {ckpt}")
    stopped = [c for c in stop_checks(p.run_dir) if c.stops]
    if stopped:
        total = last.max_steps if last else None
        echo(f"stopped when verified at step {stopped[0].step} (of {total})")
    verdict = None
    if check and p.recipe.verify.enabled:
        report = check_identity(p.run_dir, ckpt, progress)
        verdict = report.verdict if report else Verdict.NONE
    echo("next: chat with it (or serve it, merge it: `swiftkit --help`):")
    echo(f"  {shell_line('swiftkit', 'chat', ckpt)}")
    echo(f"  {helpers.render_chat(ckpt).shell()}")
    if verdict not in (None, Verdict.PASS):
        # the checkpoint is kept, but a script chaining `run && serve` must not go on
        echo("the identity did not verify: exit 1 (train longer, or see the report)")
        return 1
    return 0


def check_identity(run_dir: Path, ckpt: Path, progress: live.Progress) -> VerifyReport | None:
    """Verify and record the verdict; a verify that cannot run is reported, never a pass."""
    echo = progress.echo
    progress.status("verifying: identity probes on the base model and on the adapter ...")
    try:
        with launch.stoppable():  # Ctrl-C or SIGTERM stop the verify child too: exit 130
            report = verify(resolve(ckpt), status=progress.status)
    except SwiftkitError as exc:
        progress.status(None)
        manifest.update(run_dir, verify=VerdictSummary(Verdict.NONE, error=exc.message))
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
