"""Faults survived: a full disk at each place swiftkit writes, a parent killed or gone, a pid
reused, signals inherited ignored, a resumed run's repeated log rows."""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    DATASETS,
    assert_clean_failure,
    child_env,
    swiftkit,
    swiftkit_argv,
    write_recipe,
)

from swiftkit.errors import SwiftkitError
from swiftkit.msswift import events
from swiftkit.msswift.command import Command
from swiftkit.pipeline import folders, index, launch
from swiftkit.pipeline.manifest import Manifest, update

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def tiny_recipe(tmp_path: Path, tiny_model: Path) -> Path:
    return write_recipe(tmp_path / "r.toml", tiny_model, [DATASETS / "self_cognition.json"])


def run_dirs(output: Path) -> list[Path]:
    return [p for p in output.iterdir() if p.is_dir()] if output.is_dir() else []


# ---- disk full ----


def test_disk_full_while_writing_the_data_copies(tiny_model, tmp_path, monkeypatch):
    """Exit 1 naming the file, no traceback, no half-made run folder, nothing indexed."""
    from swiftkit import dataset

    def full(*_a, **_k):
        raise ENOSPC

    monkeypatch.setattr(dataset, "render_copy", full)
    proc = swiftkit("run", str(tiny_recipe(tmp_path, tiny_model)), cwd=tmp_path)
    assert_clean_failure(proc, "no space left on device: ", "/data/01-self_cognition.jsonl")
    assert run_dirs(tmp_path / "output") == []
    assert index.indexed().runs == []


def test_disk_full_on_a_real_full_filesystem(tiny_model, tmp_path):
    """The same on a 300 KB tmpfs filled to the brim (a mount namespace of our own)."""
    if (
        not shutil.which("unshare")
        or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode
    ):
        pytest.skip("no unprivileged mount namespace here")
    out = tmp_path / "small"
    out.mkdir()
    r = tiny_recipe(tmp_path, tiny_model)
    r.write_text(r.read_text(encoding="utf-8").replace('"output"', f'"{out}/output"'))
    script = (
        f"mount -t tmpfs -o size=300k tmpfs {shlex.quote(str(out))} && "
        f"(dd if=/dev/zero of={shlex.quote(str(out / 'filler'))} bs=4k 2>/dev/null; true) && "
        f"exec {shlex.join(swiftkit_argv('run', str(r)))}"
    )
    env = child_env()
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert_clean_failure(proc, "no space left on device: ", str(out / "output"))
    assert list(out.iterdir()) == []  # our namespace's mount is gone: nothing leaked here


def test_disk_full_while_writing_the_log_keeps_the_child_running(tmp_path):
    """/dev/full refuses every write with ENOSPC: the child's output is still read (else it
    would block on a full pipe), the run goes on, the error is reported."""
    cmd = Command(["sh", "-c", "for i in 1 2 3; do echo line $i; done"], {})
    result = launch.run(cmd, log_path=Path("/dev/full"))
    assert result.returncode == 0 and result.tail == ["line 1", "line 2", "line 3"]
    assert result.log_error is not None and result.log_error.errno == errno.ENOSPC


class FullFile:
    """A file object whose write fails as on a full disk (the fd is still closed)."""

    def __init__(self, fd: int, *_a, **_k):
        self.fd = fd

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        os.close(self.fd)

    def write(self, _text):
        raise ENOSPC


def test_disk_full_while_writing_the_manifest(tmp_path, monkeypatch):
    """No 0-byte .tmp left; the new status is written over the old bytes when it fits, so
    the manifest never stays `running`; when it cannot fit, a clear error with the path."""
    run_dir = tmp_path / "r-1"
    Manifest(status="running", argv=["swift", "sft"] * 50, pid=1).write(run_dir)
    monkeypatch.setattr(os, "fdopen", FullFile)
    update(run_dir, status="failed", returncode=1)
    assert sorted(p.name for p in run_dir.iterdir()) == ["manifest.json"]
    m = Manifest.read(run_dir)
    assert (m.status, m.returncode, len(m.argv)) == ("failed", 1, 100)
    small = tmp_path / "r-2"
    monkeypatch.undo()
    Manifest(status="running").write(small)
    monkeypatch.setattr(os, "fdopen", FullFile)
    with pytest.raises(SwiftkitError) as err:
        update(small, status="failed", argv=["swift", "sft"] * 50)
    assert err.value.message == f"no space left on device: {small / 'manifest.json'}"
    assert sorted(p.name for p in small.iterdir()) == ["manifest.json"]


@pytest.mark.parametrize("fault", [ENOSPC, KeyboardInterrupt()])
def test_a_failure_of_swiftkit_itself_never_leaves_the_manifest_running(
    tiny_model, tmp_path, monkeypatch, fault
):
    """Something fails in swiftkit while the child runs (here: at once): the manifest says
    failed (interrupted for Ctrl-C), exit 1 with the disk-full message (130)."""

    def broken(*_a, **_k):
        raise fault

    monkeypatch.setattr(launch, "run", broken)
    proc = swiftkit("run", str(tiny_recipe(tmp_path, tiny_model)), cwd=tmp_path)
    (run_dir,) = run_dirs(tmp_path / "output")
    if isinstance(fault, OSError):
        assert_clean_failure(proc, "no space left on device")
        assert Manifest.read(run_dir).status == "failed"
    else:
        assert proc.returncode == 130
        assert Manifest.read(run_dir).status == "interrupted"


def test_ms_swift_hitting_a_full_disk_is_named_with_the_run_folder(
    tiny_model, tmp_path, monkeypatch
):
    """ms-swift's own checkpoint save fails (its output says ENOSPC, no path): exit 1, the
    advice, the run folder named, the manifest `failed`."""
    tail = ["Traceback (most recent call last):", "OSError: [Errno 28] No space left on device"]
    monkeypatch.setattr(launch, "run", lambda *_a, **_k: launch.Result(1, False, tail))
    proc = swiftkit("run", str(tiny_recipe(tmp_path, tiny_model)), cwd=tmp_path)
    (run_dir,) = run_dirs(tmp_path / "output")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "what happened: the disk is full" in proc.stdout
    assert f"no space left on device: {run_dir} (" in proc.stdout
    assert Manifest.read(run_dir).status == "failed"


# ---- a run whose process is gone ----

PRETEND = """
import sys, time
from pathlib import Path
from swiftkit.pipeline import folders
from swiftkit.pipeline.manifest import Manifest
Manifest(status="running", started="2026-01-01T00:00:00+00:00",
         **folders.this_process()).write(Path(sys.argv[1]))
print("ready", flush=True)
time.sleep(600)
"""


def test_runs_shows_live_progress_then_died_after_a_sigkill(tmp_path):
    """A run in training shows step and loss from logging.jsonl (the manifest has them only at
    the end; a resumed run's repeated steps count once); SIGKILL of its process: "died"."""
    run_dir = tmp_path / "output" / "r-1"
    proc = subprocess.Popen(
        [sys.executable, "-c", PRETEND, str(run_dir)],
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        rows = [(1, 2.5), (2, 2.0), (3, 1.5), (2, 2.1), (3, 1.4)]  # resumed from step 1
        (run_dir / "logging.jsonl").write_text(
            "".join(
                json.dumps({"loss": loss, "global_step/max_steps": f"{s}/10"}) + "\n"
                for s, loss in rows
            )
            + '{"loss": 1.0, "global_st',  # a row being written
            encoding="utf-8",
        )
        (row,) = json.loads(swiftkit("runs", "--json", cwd=tmp_path).stdout)
        assert (row["status"], row["steps"], row["max_steps"], row["last_loss"]) == (
            "running",
            3,
            10,
            1.4,
        )
        assert "steps 3/10  loss 1.4000" in swiftkit("runs", cwd=tmp_path).stdout
        proc.kill()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert Manifest.read(run_dir).status == "running"  # what the file says
    (row,) = json.loads(swiftkit("runs", "--json", cwd=tmp_path).stdout)
    assert (row["status"], row["steps"], row["last_loss"]) == ("died", 3, 1.4)


def test_a_reused_pid_or_another_host(tmp_path):
    """The pid alone is not the run: a live process that started at another time is not it;
    a run on another host cannot be checked from here and is taken at its word."""
    me = folders.this_process()
    assert folders.run_status(Manifest(status="running", **me)) == "running"
    reused = {**me, "pid_start": (me["pid_start"] or 0) + 1}
    assert folders.run_status(Manifest(status="running", **reused)) == "died"
    assert folders.run_status(Manifest(status="running", pid=me["pid"])) == "running"  # v1
    elsewhere = {"pid": 2**22 + 1, "pid_start": 5, "host": me["host"] + "-other"}
    assert folders.run_status(Manifest(status="running", **elsewhere)) == "running"
    assert folders.run_status(Manifest(status="running", pid=2**22 + 1)) == "died"


def test_reading_logging_jsonl_after_a_resume_has_no_duplicate_steps(tmp_path):
    log = tmp_path / "logging.jsonl"
    first = [(s, 3.0 - s / 10) for s in range(1, 6)]
    resumed = [(s, 2.0 - s / 10) for s in range(4, 9)]  # from checkpoint-3
    log.write_text(
        "".join(
            json.dumps({"loss": loss, "global_step/max_steps": f"{s}/8"}) + "\n"
            for s, loss in first + resumed
        ),
        encoding="utf-8",
    )
    steps = events.read_steps(log)
    assert [s.step for s in steps] == list(range(1, 9))
    assert [s.loss for s in steps][3:] == [loss for _, loss in resumed]  # the last row wins


# ---- signals ----


def ignored_mask(status_file: Path) -> int:
    line = next(x for x in status_file.read_text().splitlines() if x.startswith("SigIgn:"))
    return int(line.split()[1], 16)


BITS = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))


def test_every_kind_of_child_starts_with_default_sigint_and_sigterm(tmp_path):
    """The parent inherited SIGINT and SIGTERM ignored (a script's `cmd &`, nohup): run,
    Background (serve) and interactive (chat) children start with both at their defaults."""
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        probe = tmp_path / "probe.txt"
        cat = f"cat /proc/self/status > {shlex.quote(str(probe))}"
        sh = Command(["sh", "-c", cat], {})
        bare = subprocess.run(["sh", "-c", cat])
        assert bare.returncode == 0 and ignored_mask(probe) & BITS == BITS  # what Popen does
        assert launch.run(sh).returncode == 0
        assert ignored_mask(probe) & BITS == 0
        probe.unlink()
        bg = launch.Background(sh, tmp_path / "bg.log")
        bg.proc.wait(timeout=60)
        assert ignored_mask(probe) & BITS == 0
        probe.unlink()
        assert launch.interactive(sh) == 0
        assert ignored_mask(probe) & BITS == 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def test_the_parent_reacts_to_sigint_it_inherited_ignored():
    """Python keeps an inherited SIG_IGN; swiftkit's main installs KeyboardInterrupt."""
    code = (
        "import signal; from swiftkit.cli import react_to_sigint; "
        "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN); react_to_sigint(); "
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    proc = subprocess.run(
        ["sh", "-c", f'trap "" INT; exec {shlex.join([sys.executable, "-c", code])}'],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert proc.stdout.split() == ["True", "True"], proc.stderr


def test_sigint_stops_a_swiftkit_parent_started_with_sigint_ignored(tmp_path):
    """A command waiting in the parent (here `runs` made slow) ends with 130 on one SIGINT."""
    code = (
        "import sys, time; from swiftkit import cli; from swiftkit.commands import runs; "
        "runs.execute = lambda *a, **k: (print('waiting', flush=True), time.sleep(300)); "
        "sys.exit(cli.main(['runs']))"
    )
    proc = subprocess.Popen(
        ["sh", "-c", f'trap "" INT; exec {shlex.join([sys.executable, "-c", code])}'],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "waiting\n"
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
