"""Everything decided before launch: the recipe bound to this machine, the filled data
copies, the exact `swift sft` command, and the run folder with its manifest."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swiftkit import __version__, dataset, recipe, resources
from swiftkit.errors import Finding, SwiftkitError, errors_only, writing
from swiftkit.machine import fit, hardware
from swiftkit.msswift import argv as helpers
from swiftkit.msswift import compat, sft
from swiftkit.msswift.command import Command
from swiftkit.pipeline import checks, folders, index, stopcheck
from swiftkit.pipeline.manifest import (
    MANIFEST,
    DatasetRecord,
    Manifest,
    ResolvedRecipe,
    Status,
    now_iso,
)
from swiftkit.recipe.model import DatasetRef, Recipe


@dataclass
class Plan:
    recipe: Recipe
    run_dir: Path
    data: list[tuple[DatasetRef, Path | None]]  # (source, rendered copy) per dataset
    command: Command
    version: str
    warnings: list[Finding] = field(default_factory=list)


def bound(recipe_path: Path) -> Recipe:
    """The recipe x this machine: "auto" preset and "auto-by-gpu" dtype settled."""
    return fit.bind(recipe.load(recipe_path), hardware.detect())


def checked(recipe_path: Path) -> tuple[Recipe, list[Finding]]:
    """The bound recipe, checked as `validate` checks it: errors stop here, warnings return."""
    rec = bound(recipe_path)
    findings = checks.recipe_findings(rec)
    errors = errors_only(findings)
    if errors:
        raise SwiftkitError(
            f"{len(errors)} error(s) in the recipe's datasets or probe files; nothing was started",
            errors[:50],
        )
    return rec, [f for f in findings if f not in errors]


def command_for(
    rec: Recipe, out_dir: Path, data_dir: Path, version: str, pasted: bool = False
) -> tuple[list[tuple[DatasetRef, Path | None]], Command]:
    """`swift sft` into out_dir, reading data copies from data_dir; `pasted`: versioned folders."""
    data: list[tuple[DatasetRef, Path | None]] = []

    def specs(refs: tuple[DatasetRef, ...], prefix: str) -> list[str]:
        """Local files become their filled copies; hub ids stay as they are."""
        out = []
        for i, ref in enumerate(refs):
            name = f"{prefix}{i + 1:02d}-{ref.path.stem}.jsonl" if ref.path else ""
            copy = data_dir / "data" / name if ref.is_local else None
            data.append((ref, copy))
            out.append(str(copy) + (f"#{ref.sample}" if ref.sample else "") if copy else ref.spec)
        return out

    train_specs = specs(rec.data.datasets, "")
    val_specs = specs(rec.data.val_datasets, "val-")
    command = sft.render_sft(rec, out_dir, train_specs, version, val_specs)
    if pasted:
        sft.let_swift_name_the_folder(command, version)
    if stopping(rec):
        sft.add_stop_plugin(command, stopcheck.config_path(data_dir))
    return data, command


def stopping(rec: Recipe) -> bool:
    return rec.verify.stop_when_verified and rec.verify.enabled


def plan(recipe_path: Path, run_dir: Path | None = None) -> Plan:
    """The checked recipe and its command for `run_dir` (default: a new one). Writes no file."""
    rec, warnings = checked(recipe_path)
    version = compat.target_version()
    run_dir = run_dir or folders.new_run_dir(rec.output_dir, folders.run_stem(rec))
    data, command = command_for(rec, run_dir, run_dir, version)
    return Plan(rec, run_dir, data, command, version, warnings)


def write_inputs(p: Plan, data_dir: Path) -> dict[str, DatasetRecord]:
    """What the command reads, where it reads it (data_dir): the filled data copies, then the
    stop settings (their probes come from those copies). Returns the sha256 per dataset."""
    hashes: dict[str, DatasetRecord] = {}
    for ref, copy in p.data:
        if copy is None or ref.path is None:
            hashes[ref.spec] = DatasetRecord(hub=ref.hub_id, sample=ref.sample)
            continue
        with writing(copy):
            done = dataset.render_copy(ref.path, p.recipe.identity.fills(), copy.parent, copy.name)
        hashes[ref.spec] = DatasetRecord(
            str(ref.path), dataset.sha256(ref.path), str(done), dataset.sha256(done)
        )
    if stopping(p.recipe):
        with writing(data_dir):
            stopcheck.write_stop_config(data_dir, p.recipe)
    return hashes


RESUMABLE = (Status.INTERRUPTED, Status.DIED, Status.FAILED)


def resume_plan(spec: Path) -> Plan:
    """Continue RUN_DIR, or the newest interrupted or failed run of RECIPE, in its folder: the
    manifest's argv (not the recipe as it is now) plus --resume_from_checkpoint on the last
    complete checkpoint (weights, optimizer, scheduler and step come back)."""
    if spec.is_dir():
        run_dir = spec.resolve()
        if not folders.is_run_folder(run_dir):
            raise SwiftkitError.at(
                f"not a run folder: {run_dir}",
                str(run_dir),
                "no manifest.json",
                fix="pass output/<run>",
            )
    else:
        rec = recipe.load(spec)
        runs = [(r, Manifest.read(r)) for r in folders.find_runs(rec.output_dir)]
        mine = [
            r for r, m in runs if m.recipe == str(rec.path) and folders.run_status(m) in RESUMABLE
        ]
        if not mine:
            raise SwiftkitError.at(
                f"no interrupted or failed run of {rec.path} in {rec.output_dir}",
                str(rec.output_dir),
                "nothing to resume",
                fix="`swiftkit runs` lists the runs; drop --resume to start a new one",
            )
        run_dir = mine[-1]
    m = Manifest.read(run_dir)
    status = folders.run_status(m)
    if status not in RESUMABLE:
        raise SwiftkitError.at(
            f"run is {status}, not resumable: {run_dir}",
            str(run_dir / MANIFEST),
            f"status '{status}'",
        )
    done = [c for c in folders.checkpoints(run_dir) if folders.is_complete(c)]
    if not done:
        raise SwiftkitError.at(
            f"no checkpoint to resume from in {run_dir}",
            str(run_dir),
            "the run stopped before its first complete checkpoint-N",
            fix="start it again without --resume (lower save_steps to save sooner)",
        )
    if not m.recipe or not isinstance(m.recipe, str):
        raise SwiftkitError.at(
            f"the manifest names no recipe: {run_dir}", str(run_dir / MANIFEST), "no 'recipe'"
        )
    rec, _ = checked(Path(m.recipe))
    version = compat.target_version()
    data, fresh = command_for(rec, run_dir, run_dir, version)
    same_as_recorded(fresh, m, run_dir)
    command = Command(helpers.resume(fresh.argv, done[-1].resolve()), fresh.env)
    if stopcheck.PLUGIN_ENV in command.env:
        stopcheck.complete_old_settings(Path(command.env[stopcheck.PLUGIN_ENV]))
    return Plan(rec, run_dir, data[: len(rec.data.datasets)], command, version)


def same_as_recorded(fresh: Command, m: Manifest, run_dir: Path) -> None:
    """Resume runs the command the recipe renders for this folder, never the manifest's own
    argv/env (a run folder is copied and shared; an edited one must not run its contents).
    It must match what was recorded, the recorded run folder read as this one (a copy)."""
    argv = m.argv if isinstance(m.argv, list) else [m.argv]
    recorded = helpers.without_resume([a if isinstance(a, str) else repr(a) for a in argv])
    old = helpers.output_dir(recorded)

    def here(value: object) -> object:  # the recorded folder read as this one
        if old and isinstance(value, str) and value.startswith(old):
            return str(run_dir) + value[len(old) :]
        return value

    env = {str(k): here(v) for k, v in m.env.items()} if isinstance(m.env, dict) else m.env
    for name, was, now in (
        ("argv", [here(a) for a in recorded], fresh.argv),
        ("env", env, fresh.env),
    ):
        if was != now:
            raise SwiftkitError.at(
                f"the recorded command is not what {m.recipe} renders for this run",
                str(run_dir / MANIFEST),
                f"'{name}' differs: {helpers.first_difference(was, now)}; resume runs only "
                "the command swiftkit renders from the recipe",
                field=name,
                fix="restore the recipe as it was when the run started, or start a new run "
                "without --resume",
            )


def write_new_run(p: Plan) -> tuple[Plan, str | None]:
    """A fresh run folder (one taken in the same second: the next name, and its own command)
    with the data copies and a "running" manifest, recorded in the runs index. Returns the
    plan as launched and a note when the index failed. A failed write removes the folder."""
    run_dir = folders.claim_run_dir(p.run_dir)
    try:
        if run_dir != p.run_dir:
            p = plan(p.recipe.path, run_dir)
        hashes = write_inputs(p, p.run_dir)
        started = now_iso()
        Manifest(
            status=Status.RUNNING,
            recipe=str(p.recipe.path),
            recipe_resolved=ResolvedRecipe.from_dict(p.recipe.to_dict()),
            preset=p.recipe.train.preset.name if p.recipe.train.preset else None,
            argv=p.command.argv,
            env=p.command.env,
            shell=p.command.shell(),
            versions={
                "swiftkit": __version__,
                "ms-swift": compat.swift_version(),
                **{n: compat.installed_version(n) for n in ("torch", "transformers", "peft")},
                "python": sys.version.split()[0],
            },
            datasets=hashes,
            started=started,
            **folders.this_process(),
        ).write(p.run_dir)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return p, index.add(p.run_dir, str(p.recipe.path), started)


# ---- the line to paste: `swiftkit render` and `swiftkit run --dry-run` ----


def paste_plan(recipe_path: Path, note: Callable[[str], None]) -> Plan:
    """The command as a line to paste from any folder, what it reads in place: the data copies
    in <cache>/rendered/<sha256 of their content>/ (the same line twice, a new one on an edit);
    it trains into <output_dir>/<recipe>-pasted/v<N>-<time>/, one per paste."""
    rec, warnings = checked(recipe_path)
    version = compat.target_version()
    out_dir = rec.output_dir / f"{rec.name}-pasted"
    # the user's cache: the output folder may not be writable here (/root/output on a laptop)
    root = resources.user_folder("cache") / "rendered"
    with writing(root):  # an unwritable SWIFTKIT_CACHE_DIR: named, not a traceback
        root.mkdir(parents=True, exist_ok=True)
        # a failure leaves no half-written folder; one renamed into place is not cleaned up
        scratch = tempfile.TemporaryDirectory(prefix=".tmp-", dir=root, ignore_cleanup_errors=True)
    with scratch as name:
        tmp = Path(name)
        data, command = command_for(rec, out_dir, tmp, version, pasted=True)
        write_inputs(Plan(rec, out_dir, data, command, version), tmp)
        digest = hashlib.sha256()  # of every file's name and bytes
        for f in sorted(p for p in tmp.rglob("*") if p.is_file()):
            digest.update(f.relative_to(tmp).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
        final = root / digest.hexdigest()[:16]
        if not final.is_dir():
            os.replace(tmp, final)
    data, command = command_for(rec, out_dir, final, version, pasted=True)
    checks.ensure_tiny_model(rec, note)
    return Plan(rec, out_dir, data, command, version, warnings)
