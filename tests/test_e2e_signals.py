"""End to end with the real ms-swift: one SIGINT stops a run started from a script.

A script's background job (`cmd &`, nohup, some CI runners) starts with SIGINT ignored, and
an ignored signal is inherited through fork and exec: before the fix, the forwarded SIGINT
did nothing to ms-swift and only the escalation 40 s later stopped it."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import DATASETS, child_env, swiftkit_argv, write_recipe

pytestmark = pytest.mark.e2e
STOP_WITHIN = 15  # seconds: the bound the issue sets for one SIGINT


def test_one_sigint_to_the_group_stops_a_run_started_with_sigint_ignored(tiny_model, tmp_path):
    r = write_recipe(tmp_path / "tiny.toml", tiny_model, [DATASETS / "self_cognition.json"])
    # 240 steps, a checkpoint every 4: it is still training when the signal comes
    r.write_text(r.read_text(encoding="utf-8").replace("save_steps = 80", "save_steps = 4"))
    env = child_env()
    log = (tmp_path / "out.txt").open("wb")
    script = f'trap "" INT; exec {shlex.join(swiftkit_argv("run", str(r), "--no-verify"))}'
    proc = subprocess.Popen(
        ["sh", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a script's job would be
    )
    try:
        first = wait_for_checkpoint(tmp_path / "output", proc, timeout=540)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=STOP_WITHIN)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    out = (tmp_path / "out.txt").read_text(encoding="utf-8", errors="replace")
    assert code == 130, out
    run_dir = first.parent
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted", out
    assert (first / "adapter_config.json").is_file()
    assert "checkpoint(s) kept" in out and "--resume" in out


def wait_for_checkpoint(output: Path, proc: subprocess.Popen, timeout: float) -> Path:
    """The first complete checkpoint-N (trainer_state.json is written last)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = (output.parent / "out.txt").read_text(encoding="utf-8", errors="replace")
            raise AssertionError(f"the run ended before its first checkpoint:\n{out[-3000:]}")
        found = sorted(output.glob("*/checkpoint-*/trainer_state.json"))
        if found:
            return found[0].parent
        time.sleep(0.5)
    raise AssertionError(f"no checkpoint in {output} after {timeout} s")
