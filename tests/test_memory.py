"""The memory estimate on each device, the measured CPU baseline and its cache, the peak
sampler, the tinymodel shapes the memory bench builds, and the rehearsal's peak hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swiftkit.machine import baseline, estimate, fit
from swiftkit.recipe import load

ROOT = Path(__file__).resolve().parents[1]
SEVEN_B = estimate.shape_of("Qwen/Qwen2.5-7B-Instruct", None)


@pytest.fixture
def cache_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("SWIFTKIT_CACHE_DIR", raising=False)  # the session's; XDG's here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "swiftkit" / "cpu-baseline.json"


def test_baseline_cache_is_used_only_for_the_versions_it_was_measured_on(cache_home):
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text(json.dumps({"mib": 700.0, "versions": baseline.versions()}))
    assert baseline.cached() == baseline.Baseline(700.0, baseline.versions(), True)
    cache_home.write_text(json.dumps({"mib": 700.0, "versions": "python 3.0, ms-swift 1.0"}))
    other = baseline.cached()
    assert (other.mib, other.measured) == (baseline.DEFAULT_MIB, False)


@pytest.mark.parametrize("text", ["not json", "[]", '{"versions": 1}', '{"mib": "x"}'])
def test_a_broken_baseline_cache_falls_back_to_the_shipped_figure(cache_home, text):
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text(text)
    assert baseline.cached().mib == baseline.DEFAULT_MIB


def test_cpu_estimate_swaps_the_cuda_allowance_for_the_baseline_and_counts_float32():
    shape = estimate.shape_of("Qwen/Qwen2.5-0.5B-Instruct", None)
    gpu = estimate.estimate(shape, max_length=512)
    cpu = estimate.estimate(
        shape, torch_dtype="float32", max_length=512, device="cpu", overhead_gib=0.75
    )
    assert gpu.overhead == estimate.OVERHEAD_GIB and cpu.overhead == 0.75
    assert cpu.weights == pytest.approx(2 * gpu.weights)  # 4 bytes a value, not 2
    assert cpu.lora == gpu.lora  # LoRA weights, grads, Adam state are float32 on both
    assert cpu.activations == pytest.approx(2 * gpu.activations)
    assert any(line.startswith("baseline") for line in cpu.lines())
    assert any(line.startswith("CUDA/alloc") for line in gpu.lines())


def test_the_cpu_preset_estimates_with_the_cached_baseline(tmp_path, cache_home, tiny_model):
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text(json.dumps({"mib": 512.0, "versions": baseline.versions()}))
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'[model]\nid = "{tiny_model}"\n[data]\ndatasets = ["{ROOT}/datasets/self_cognition.json"]'
        '\n[train]\npreset = "cpu"\n',
        encoding="utf-8",
    )
    est = fit.estimate_for(load(recipe))
    assert est is not None and est.device == "cpu" and est.overhead == 0.5
    assert est.weights * estimate.GIB == est.params * 4  # the cpu preset trains in float32


def test_inference_and_merge_estimates_for_the_7b_on_one_card():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import phase_memory

    infer = phase_memory.inference(SEVEN_B, tokens=2048)
    assert 15.0 <= infer.terms[0][1] * estimate.GIB / 1e9 <= 15.5  # 15.2 GB of bf16 weights
    assert infer.terms[1][1] < 0.2  # the KV cache of 2048 tokens: 4 KV heads keep it small
    assert infer.total < 24 * 1e9 / estimate.GIB
    on_gpu = phase_memory.merge(SEVEN_B)
    on_cpu = phase_memory.merge(SEVEN_B, device="cpu", overhead_gib=0.8)
    assert [t[0] for t in on_gpu.terms] == ["weights", "CUDA/alloc"]
    assert on_cpu.terms[1][1] * estimate.GIB == phase_memory.SHARD_BYTES  # one 5 GB shard
    assert 19 < on_cpu.total < 20  # GiB of RAM: weights, one shard, the baseline


def test_sample_peak_sees_a_grandchilds_allocation_and_the_exit_status():
    grandchild = "b = bytearray(300 * 2**20); import sys; sys.exit(3)"
    run = f"subprocess.run([sys.executable, '-c', {grandchild!r}])"
    code = f"import subprocess, sys; sys.exit({run}.returncode)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    peak = baseline.sample_peak(proc)
    assert proc.returncode == 3
    assert 300 * 2**20 < peak < 600 * 2**20


def test_tree_memory_counts_the_children_and_no_ancestor_of_the_root():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        each = baseline._each(os.getpid())
        assert child.pid in [p for _, _, p, _ in each]
        rss, uss, pid, ppid = next(e for e in each if e[2] == os.getpid())
        assert rss >= uss > 0 and (pid, ppid) == (os.getpid(), os.getppid())
        total, ancestors = baseline.tree_now(os.getpid())
        assert total > rss  # plus the sleeping child's private pages
        assert ancestors == 0  # the largest process is the root: no ancestors
    finally:
        child.kill()
        child.wait()


def test_tinymodel_builds_a_given_shape_and_refuses_a_vocab_below_the_tokenizers(tmp_path):
    spec = tmp_path / "shape.json"
    spec.write_text(
        json.dumps(
            {
                "_comment": "ignored",
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "vocab_size": 4096,
                "tie_word_embeddings": False,
            }
        )
    )
    out = tmp_path / "m"
    cmd = [sys.executable, "-m", "swiftkit.tinymodel", str(out), str(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["hidden_size"], cfg["vocab_size"], cfg["tie_word_embeddings"]) == (32, 4096, False)
    assert "_comment" not in cfg
    spec.write_text(json.dumps({"vocab_size": 100}))
    proc = subprocess.run(
        cmd[:2] + [cmd[2], str(tmp_path / "m2"), str(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode != 0 and "vocab_size 100 < the tokenizer's" in proc.stderr


def test_peak_hook_reports_every_python_process_of_a_phase(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bench" / "peakhook"))
    env["SWIFTKIT_PEAK_DIR"] = str(tmp_path)
    subprocess.run([sys.executable, "-c", "b = bytearray(50 * 2**20)"], env=env, check=True)
    (report,) = tmp_path.glob("peak-*.json")
    got = json.loads(report.read_text())
    assert got["max_rss_mib"] > 50 and "cuda_max_allocated_mib" not in got
    env.pop("SWIFTKIT_PEAK_DIR")
    out = tmp_path / "none"
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True, cwd=tmp_path)
    assert not out.exists() and len(list(tmp_path.glob("peak-*.json"))) == 1
