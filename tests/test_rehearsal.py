"""bench/gpu_rehearsal.sh at its small shape on the CPU (the cpu preset), end to end with the
real ms-swift, so the script that waits for a GPU cannot rot; and the memory bench's formula on
the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_small_rehearsal_runs_every_phase_and_writes_the_summary(tmp_path):
    out = tmp_path / "rehearsal"
    env = dict(os.environ, SHAPE="small", STEPS="2", OUT=str(out), PYTHON=sys.executable)
    proc = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu_rehearsal.sh")],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["phase"]: r for r in json.loads((out / "summary.json").read_text())}
    assert set(rows) == {"train", "verify", "export"}
    assert rows["train"]["returncode"] == 0 and rows["export"]["returncode"] == 0
    assert rows["verify"]["returncode"] in (0, 1)  # a pass or a located failure, no crash
    for r in rows.values():
        assert r["device"] == "cpu" and r["estimate_mib"] > 0
        assert r["tree_peak_mib"] > 300  # torch and ms-swift alone hold more than this
        assert r["processes"] if "processes" in r else True
        assert r["cuda_max_allocated_mib"] in (None, 0)  # no GPU here
    hooks = list((out / "phases" / "train-hook").glob("peak-*.json"))
    assert hooks, "the peak hook reported from inside the training processes"
    assert (out / "merged" / "config.json").is_file()
    assert "| train | 0 |" in (out / "summary.md").read_text()


@pytest.mark.e2e
def test_memory_bench_on_the_tiny_model_is_within_15_percent(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "memory_bench.py"), "--shape", "tiny", "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path)),
    )
    rows = json.loads(proc.stdout)
    assert len(rows) == 4 and {r["gradient_checkpointing"] for r in rows} == {True, False}
    for r in rows:
        assert 0.85 <= r["measured_peak_mib"] / r["estimated_peak_mib"] <= 1.15, r
    assert proc.returncode == 0, proc.stderr[-2000:]
