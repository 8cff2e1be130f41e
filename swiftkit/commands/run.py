"""`swiftkit run RECIPE`: check everything, launch `swift sft`, watch it, find the checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swiftkit import __version__, dataset, recipe, runs, verify
from swiftkit.child import events, launch
from swiftkit.errors import Finding, SwiftkitError, errors_only
from swiftkit.render import compat, sft
from swiftkit.render.command import Command, argv_from_flags

Echo = Callable[[str], None]


@dataclass
class Plan:
    """Everything decided before launch: the recipe, its data copies and the command."""

    recipe: recipe.Recipe
    run_dir: Path
    data: list[tuple[recipe.DatasetRef, Path | None]]  # (source, rendered copy) per dataset
    command: Command
    version: str
    warnings: list[Finding] = field(default_factory=list)


def data_copy_path(run_dir: Path, ref: recipe.DatasetRef, index: int, prefix: str = "") -> Path:
    return run_dir / "data" / f"{prefix}{index + 1:02d}-{ref.path.stem}.jsonl"


def plan(recipe_path: Path) -> Plan:
    """Load and check the recipe and its data; render the command. Touches no file."""
    from swiftkit.commands import validate

    rec = recipe.load(recipe_path)
    # The same data checks as `swiftkit validate`: placeholders, length, records per step.
    findings: list[Finding] = validate.recipe_data_findings(rec)
    errors = errors_only(findings)
    if errors:
        raise SwiftkitError(f"{len(errors)} dataset error(s); nothing was started", errors[:50])
    vcfg = verify_config(rec)
    verifying = rec.raw.get("verify", {}).get("enabled", True)
    if verifying:
        verify.check_probe_files(vcfg)  # a bad probe file stops the run before it starts
    version = compat.target_version()
    run_dir = runs.new_run_dir(rec.output_dir, rec.name)
    data: list[tuple[recipe.DatasetRef, Path | None]] = []

    def specs(refs: list[recipe.DatasetRef], prefix: str) -> list[str]:
        """Local files become their filled copies in the run folder; hub ids stay as they are."""
        out = []
        for i, ref in enumerate(refs):
            copy = data_copy_path(run_dir, ref, i, prefix) if ref.is_local else None
            data.append((ref, copy))
            out.append(str(copy) + (f"#{ref.sample}" if ref.sample else "") if copy else ref.spec)
        return out

    train_specs = specs(rec.datasets, "")
    command = sft.render_sft(rec, run_dir, train_specs, version, specs(rec.val_datasets, "val-"))
    if vcfg.stop_when_verified and verifying:
        flags, env = verify.plugin_flags(run_dir)
        command.argv += argv_from_flags("sft", flags)[2:]
        command.env.update(env)
    return Plan(rec, run_dir, data, command, version, [f for f in findings if f not in errors])


def verify_config(rec: recipe.Recipe) -> verify.Config:
    return verify.config(rec.raw.get("verify"), rec.dir, str(rec.path))


def new_identity(rec: recipe.Recipe) -> list[str]:
    return [str(rec.identity[k]) for k in ("name", "author") if rec.identity.get(k)]


def preflight(p: Plan) -> None:
    """What the machine must offer before launch: ms-swift in range, a writable output folder."""
    from swiftkit.machine import fit  # GPUs, memory, processes, hub access

    fit.require_fit(p.recipe)
    installed = compat.swift_version()
    if installed is None:
        raise SwiftkitError(
            "ms-swift is not installed in this environment",
            [Finding.error("ms-swift", "not installed", fix="pip install 'ms-swift>=4.1,<5'")],
        )
    if not compat.is_supported(installed):
        sup = compat.table()["supported"]
        raise SwiftkitError(
            f"ms-swift {installed} is outside the supported range {sup['min']} to <{sup['below']}",
            [
                Finding.error(
                    "ms-swift",
                    f"version {installed}",
                    fix=f"pip install 'ms-swift=={compat.table()['tested']}' (the tested version)",
                )
            ],
        )
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
    if rec.model.get("build") != "tiny" or rec.model_path is None:
        return
    if (rec.model_path / "config.json").is_file():
        return
    echo(f"building the tiny test model at {rec.model_path} (first use only)")
    build_tiny_model(rec.model_path)


def build_tiny_model(target: Path) -> None:
    """Build in a temp folder, then rename: an interrupted build leaves nothing half made."""
    if target.exists() and any(target.iterdir()):
        raise SwiftkitError(
            f"{target} exists and is not empty",
            [Finding.error(str(target), "refusing to overwrite", fix="choose a new folder")],
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    proc = subprocess.run(
        [sys.executable, "-m", "swiftkit.tinymodel", str(tmp)],
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


def write_inputs(p: Plan) -> dict[str, dict]:
    """Fill placeholders into copies inside the run folder; return sha256 per dataset."""
    hashes: dict[str, dict] = {}
    for ref, copy in p.data:
        if copy is None:
            hashes[ref.spec] = {"hub": ref.hub_id, "sample": ref.sample}
            continue
        written = dataset.render_copy(ref.path, p.recipe.identity, copy.parent, copy.name)
        hashes[ref.spec] = {
            "source": str(ref.path),
            "source_sha256": dataset.sha256(ref.path),
            "rendered": str(written),
            "rendered_sha256": dataset.sha256(written),
        }
    return hashes


def versions() -> dict[str, str | None]:
    return {
        "swiftkit": __version__,
        "ms-swift": compat.swift_version(),
        "torch": compat.installed_version("torch"),
        "transformers": compat.installed_version("transformers"),
        "peft": compat.installed_version("peft"),
        "python": sys.version.split()[0],
    }


class Progress:
    """Prints training progress from logging.jsonl: one line per log row, or one redrawn line
    on a terminal."""

    def __init__(self, run_dir: Path, echo: Echo, tty: bool):
        self.tail = events.LogTail(run_dir / "logging.jsonl")
        self.echo = echo
        self.tty = tty
        self.last: events.Step | None = None

    def tick(self) -> None:
        for step in self.tail.new_steps():
            self.last = step
            if self.tty:
                sys.stderr.write("\r\033[K  " + step.line())
                sys.stderr.flush()
            else:
                self.echo("  " + step.line())

    def close(self) -> None:
        if self.tty and self.last:
            sys.stderr.write("\n")


RESUMABLE = ("interrupted", "interrupted (crashed)", "failed")


def resume_plan(spec: Path) -> Plan:
    """Continue a run in its own folder: RUN_DIR itself, or the newest interrupted or failed
    run of RECIPE. The manifest's argv (not the recipe as it is now) plus
    --resume_from_checkpoint on the last complete checkpoint: weights, optimizer, scheduler
    and global step come back, so the step count continues."""
    if spec.is_dir():
        run_dir = spec.resolve()
        if not (run_dir / runs.MANIFEST).is_file():
            raise SwiftkitError(
                f"not a run folder: {run_dir}",
                [Finding.error(str(run_dir), "no manifest.json", fix="pass output/<run>")],
            )
    else:
        rec = recipe.load(spec)
        mine = [
            r
            for r in runs.find_runs(rec.output_dir)
            if runs.read_manifest(r).get("recipe") == str(rec.path)
            and runs.run_status(runs.read_manifest(r)) in RESUMABLE
        ]
        if not mine:
            raise SwiftkitError(
                f"no interrupted or failed run of {rec.path} in {rec.output_dir}",
                [
                    Finding.error(
                        str(rec.output_dir),
                        "nothing to resume",
                        fix="`swiftkit runs` lists the runs; drop --resume to start a new one",
                    )
                ],
            )
        run_dir = mine[-1]
    m = runs.read_manifest(run_dir)
    status = runs.run_status(m)
    if status not in RESUMABLE:
        raise SwiftkitError(
            f"run is {status}, not resumable: {run_dir}",
            [Finding.error(str(run_dir / runs.MANIFEST), f"status '{status}'")],
        )
    done = [c for c in runs.checkpoints(run_dir) if runs.is_complete(c)]
    if not done:
        raise SwiftkitError(
            f"no checkpoint to resume from in {run_dir}",
            [
                Finding.error(
                    str(run_dir),
                    "the run stopped before its first complete checkpoint-N",
                    fix="start it again without --resume (lower save_steps to save sooner)",
                )
            ],
        )
    rec = recipe.load(Path(m["recipe"]))
    argv = list(m["argv"])
    if "--resume_from_checkpoint" in argv:  # a run resumed before
        i = argv.index("--resume_from_checkpoint")
        del argv[i : i + 2]
    argv += ["--resume_from_checkpoint", str(done[-1].resolve())]
    command = Command(argv, dict(m.get("env") or {}))
    data = [
        (ref, data_copy_path(run_dir, ref, i) if ref.is_local else None)
        for i, ref in enumerate(rec.datasets)
    ]
    return Plan(rec, run_dir, data, command, compat.target_version())


def write_new_run(p: Plan) -> None:
    """A fresh run folder: the filled data copies and a manifest saying "running"."""
    p.run_dir.mkdir(parents=True, exist_ok=False)
    hashes = write_inputs(p)
    if verify.PLUGIN_ENV in p.command.env:
        verify.write_stop_config(p.run_dir, verify_config(p.recipe), new_identity(p.recipe))
    manifest = {
        "status": "running",
        "recipe": str(p.recipe.path),
        "recipe_resolved": {**p.recipe.raw, "train": p.recipe.train},
        "preset": p.recipe.preset.get("name"),
        "argv": p.command.argv,
        "env": p.command.env,
        "shell": p.command.shell(),
        "versions": versions(),
        "datasets": hashes,
        "started": runs.now_iso(),
        "pid": os.getpid(),
    }
    runs.write_manifest(p.run_dir, manifest)


def execute(
    recipe_path: Path, echo: Echo, dry_run: bool = False, check: bool = True, resume: bool = False
) -> int:
    p = resume_plan(recipe_path) if resume else plan(recipe_path)
    for w in p.warnings:
        echo(w.format())
    if dry_run:
        echo(p.command.shell())
        return 0
    preflight(p)
    ensure_tiny_model(p, echo)
    if resume:
        m = runs.read_manifest(p.run_dir)
        resumed = [*m.get("resumed", []), {"started": runs.now_iso(), "argv": p.command.argv}]
        runs.update_manifest(p.run_dir, status="running", pid=os.getpid(), resumed=resumed)
        echo(f"resuming from {p.command.argv[-1]}")
    else:
        write_new_run(p)
    echo(f"run: {p.run_dir}")
    echo(f"command: {p.command.shell()}")
    progress = Progress(p.run_dir, echo, sys.stderr.isatty())
    if resume:  # show only the new steps; the earlier ones are in logging.jsonl already
        earlier = progress.tail.new_steps()
        progress.last = earlier[-1] if earlier else None
    result = launch.run(p.command, log_path=p.run_dir / "swift.log", on_tick=progress.tick)
    progress.close()
    last = progress.last
    common = {
        "finished": runs.now_iso(),
        "returncode": result.returncode,
        "seconds": round(result.seconds, 1),
        "steps": last.step if last else None,
        "max_steps": last.max_steps if last else None,
        "last_loss": last.loss if last else None,
    }
    if result.interrupted:
        kept = runs.checkpoints(p.run_dir)
        runs.update_manifest(p.run_dir, status="interrupted", **common)
        echo(f"interrupted: {len(kept)} checkpoint(s) kept in {p.run_dir}")
        for c in kept:
            echo(f"  {c}")
        if kept:
            echo(f"continue with: swiftkit run {p.run_dir} --resume")
        return 130
    if result.returncode != 0:
        runs.update_manifest(p.run_dir, status="failed", **common)
        echo(f"ms-swift failed with exit code {result.returncode}; the last lines of its output:")
        for line in result.tail[-20:]:
            echo("    " + line)
        advice = events.diagnose(result.tail)
        if advice:
            echo(f"what happened: {advice.title}")
            echo(f"what to do: {advice.advice}")
        echo(f"full log: {p.run_dir / 'swift.log'}")
        return 1
    found = events.checkpoint_from_output(result.tail)
    ckpt = Path(found) if found else runs.require_checkpoint(p.run_dir)
    runs.update_manifest(p.run_dir, status="finished", checkpoint=str(ckpt), **common)
    echo(f"checkpoint: {ckpt}")
    stopped = [c for c in verify.stop_checks(p.run_dir) if c.get("verified")]
    if stopped:
        echo(f"stopped when verified at step {stopped[0]['step']} (of {common['max_steps']})")
    verdict = None
    if check and p.recipe.raw.get("verify", {}).get("enabled", True):
        report = check_identity(p.run_dir, ckpt, echo)
        verdict = report["verdict"] if report else verify.NONE
    echo("next: chat with it (or serve it, merge it: `swiftkit --help`):")
    echo(f"  swiftkit chat {ckpt}")
    echo(f"  swift infer --adapters {ckpt} --stream true --temperature 0 --max_new_tokens 2048")
    if verdict not in (None, verify.PASS):
        # the checkpoint is kept, but a script chaining `run && serve` must not go on
        echo("the identity did not verify: exit 1 (train longer, or see the report)")
        return 1
    return 0


def check_identity(run_dir: Path, ckpt: Path, echo: Echo) -> dict | None:
    """Verify the checkpoint, say plainly whether the identity holds, record it in the
    manifest. A verify that cannot run is reported, never counted as a pass."""
    echo("verifying: identity probes on the base model and on the adapter ...")
    try:
        report = verify.verify(ckpt)
    except SwiftkitError as exc:
        runs.update_manifest(run_dir, verify={"verdict": verify.NONE, "error": exc.message})
        echo(f"identity: NO VERDICT ({exc.message})")
        echo(exc.format())
        return None
    for row in [r for r in report["probes"] if r["set"] == "identity"][:3]:
        echo(f"  Q: {row['question']}")
        echo(f"  A: {row['adapter']}")
    runs.update_manifest(run_dir, verify=verify.summary(report))
    echo(verify.headline(report))
    echo(f"report: {run_dir / 'report.md'}")
    return report
