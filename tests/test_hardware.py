"""GPU detection (a fake nvidia-smi on PATH), presets, `auto`, the memory estimate, doctor."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from conftest import RECIPES, RTX4090, fake_gpus, gpu_recipe, no_gpu_env, swiftkit

from swiftkit.machine import estimate, hardware

RTX3060 = "NVIDIA GeForce RTX 3060, 12288, 8.6"
V100 = "Tesla V100-SXM2-32GB, 32768, 7.0"
A100 = "NVIDIA A100-SXM4-80GB, 81920, 8.0"


@pytest.fixture
def gpus(tmp_path):
    """Environment for a swiftkit that sees the given GPUs through a fake nvidia-smi."""
    return lambda *lines: fake_gpus(tmp_path, *lines)


def test_parse_gpus_handles_commas_na_and_old_drivers():
    text = f"{RTX4090}\n\nNVIDIA A100, 80GB PCIe, 81920, [N/A]\ngarbage\nTesla T4, 15360\n"
    got = hardware.parse_gpus(text)
    assert [g.name for g in got] == [
        "NVIDIA GeForce RTX 4090",
        "NVIDIA A100, 80GB PCIe",
        "Tesla T4",
    ]
    assert [g.memory_mib for g in got] == [24564, 81920, 15360]
    assert [g.compute_cap for g in got] == [8.9, None, None]
    assert got[0].bf16 and not got[2].bf16


def test_dtype_by_compute_capability():
    four090, v100 = hardware.parse_gpus(f"{RTX4090}\n{V100}")
    assert hardware.dtype_for([four090]) == "bfloat16"
    assert hardware.dtype_for([v100]) == "float16"
    assert hardware.dtype_for([four090, v100]) == "float16"  # the oldest card decides
    assert hardware.dtype_for([]) == "bfloat16"  # rendered for the blog's card


def test_presets_lists_every_preset_with_its_description():
    proc = swiftkit("presets")
    assert proc.returncode == 0, proc.stderr
    for name, words in [
        ("24gb", "batch 1 x 16"),
        ("16gb", "4-bit QLoRA"),
        ("80gb", "no accumulation"),
        ("cpu", "tiny test model"),
    ]:
        line = next(x for x in proc.stdout.splitlines() if x.startswith(name + " "))
        assert words in line, line


def test_doctor_says_no_gpu_here(tmp_path):
    proc = swiftkit("doctor", env=no_gpu_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "no GPU" in proc.stdout
    assert "ms-swift: 4." in proc.stdout and "torch: " in proc.stdout
    assert "transformers: " in proc.stdout
    assert "preset auto: cpu" in proc.stdout


def test_doctor_shows_fake_gpus_cuda_and_auto(gpus):
    proc = swiftkit("doctor", env=gpus(RTX4090, V100))
    assert proc.returncode == 0, proc.stderr
    assert "GPU 0: NVIDIA GeForce RTX 4090, 24.0 GiB, compute capability 8.9 (bf16)" in proc.stdout
    assert "GPU 1: Tesla V100-SXM2-32GB, 32.0 GiB, compute capability 7 (fp16)" in proc.stdout
    assert "CUDA (driver): 12.4" in proc.stdout
    assert "preset auto: 24gb" in proc.stdout


@pytest.mark.parametrize(
    ("card", "preset"), [(RTX3060, "16gb"), (RTX4090, "24gb"), (A100, "80gb"), (None, "cpu")]
)
def test_auto_picks_by_memory(gpus, tmp_path, card, preset):
    env = gpus(card) if card else no_gpu_env(tmp_path)
    proc = swiftkit("presets", env=env)
    assert f"auto picks '{preset}'" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(("card", "dtype"), [(V100, "float16"), (A100, "bfloat16")])
def test_precision_follows_the_card(gpus, card, dtype):
    proc = swiftkit("render", str(RECIPES / "identity.toml"), "--json", env=gpus(card))
    argv = json.loads(proc.stdout)["argv"]
    assert argv[argv.index("--torch_dtype") + 1] == dtype


def test_estimate_matches_published_figures_for_the_blog_run():
    shape = estimate.shape_of("Qwen/Qwen2.5-7B-Instruct", None)
    assert shape.params == 7_615_616_512  # Qwen2.5-7B's published parameter count
    est = estimate.estimate(shape)  # the blog's settings: bf16, r 8 all-linear, 1 x 2048
    gb = est.total * estimate.GIB / 1e9
    assert 18 <= gb <= 22, gb  # blog: 18-22 GB, 21.3 GB peak; ms-swift docs: 22 GB
    no_gc = estimate.estimate(shape, gradient_checkpointing=False)
    assert no_gc.total > 24  # why ms-swift turns gradient checkpointing on by default
    qlora = estimate.estimate(shape, quant_bits=4)
    assert qlora.total < 12  # ms-swift: "7B model training only needs 9GB" (QLoRA)
    assert estimate.estimate(shape, batch=16).total < 80  # the 80gb preset fits
    assert estimate.shape_of("Qwen/Qwen2-0.5B", None).params == 494_032_768


def test_run_that_does_not_fit_stops_with_numbers_and_a_suggestion(gpus, tmp_path):
    proc = swiftkit("run", str(gpu_recipe(tmp_path)), env=gpus(RTX3060), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "will not fit on GPU 0 (NVIDIA GeForce RTX 3060, 12.0 GiB)" in proc.stderr
    assert "estimated peak 19.3 GiB" in proc.stderr
    assert "weights        14.2 GiB" in proc.stderr
    assert 'preset = "16gb" (4-bit QLoRA)' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "output").exists()


def test_gpu_recipe_without_gpu_stops_fast_with_the_cpu_alternative(tmp_path):
    proc = swiftkit("run", str(gpu_recipe(tmp_path)), env=no_gpu_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "preset '24gb' needs an NVIDIA GPU" in proc.stderr
    assert "this machine has none" in proc.stderr
    demo = shlex.join(["swiftkit", "run", str(RECIPES / "tiny-cpu.toml")])
    assert f"`{demo}` is the shipped demo" in proc.stderr


def test_more_processes_than_gpus(gpus, tmp_path):
    r = gpu_recipe(tmp_path, "[launch]\nnproc_per_node = 4\n")
    proc = swiftkit("run", str(r), env=gpus(RTX4090, RTX4090), cwd=tmp_path)
    assert proc.returncode == 1
    assert "nproc_per_node = 4 but 2 GPU(s) are visible" in proc.stderr
    assert "set nproc_per_node = 2" in proc.stderr
    line = r.read_text().splitlines().index("nproc_per_node = 4") + 1
    assert f"{r}:{line}:" in proc.stderr


def test_cuda_visible_devices_limits_what_counts(gpus, tmp_path):
    r = gpu_recipe(tmp_path, "[launch]\nnproc_per_node = 2\n")
    env = {**gpus(RTX4090, RTX4090), "CUDA_VISIBLE_DEVICES": "1"}
    proc = swiftkit("run", str(r), env=env, cwd=tmp_path)
    assert "nproc_per_node = 2 but 1 GPU(s) are visible: 1: NVIDIA" in proc.stderr


def test_estimate_counts_lora_on_the_named_modules_only():
    shape = estimate.shape_of("Qwen/Qwen2-0.5B", None)
    every = estimate.estimate(shape).lora_params
    assert estimate.estimate(shape, target_modules=["all-linear"]).lora_params == every
    q_and_v = estimate.estimate(shape, target_modules=["q_proj", "v_proj"]).lora_params
    assert 0 < estimate.estimate(shape, target_modules="q_proj").lora_params < q_and_v < every
    assert estimate.estimate(shape, target_modules=["no_such_proj"]).lora_params == every


def test_doctor_estimates_a_recipe_whose_target_modules_is_not_a_list(tmp_path):
    """Bug: `target_modules = 5` crashed the memory estimate with a traceback (list(5)).
    Since issue 22 the schema refuses it first, located; the estimate itself still
    takes a lone string or a stray number without a traceback."""
    r = gpu_recipe(tmp_path)
    r.write_text(r.read_text().replace("[train]\n", "[train]\ntarget_modules = 5\n"))
    proc = swiftkit("doctor", str(r), env=no_gpu_env(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "train.target_modules" in proc.stderr and "5 is not of type" in proc.stderr
    r.write_text(r.read_text().replace("target_modules = 5", 'target_modules = "q_proj"'))
    proc = swiftkit("doctor", str(r), env=no_gpu_env(tmp_path))
    assert proc.returncode == 1, proc.stderr  # it lists the missing GPU: exit 1
    assert "preset '24gb' needs an NVIDIA GPU" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert "total" in proc.stdout and "estimated worst case" in proc.stdout
    shape = estimate.shape_of("Qwen/Qwen2-0.5B", None)
    assert estimate.estimate(shape, target_modules=5).lora_params > 0  # type: ignore[arg-type]


# `nvidia-smi -L` of a machine with a 4090 and an A100 split into MIG slices
UUID_4090 = "GPU-5a9b1c2d-0000-1111-2222-333344445555"
UUID_A100 = "GPU-77aa88bb-0000-1111-2222-333344445555"
MIG_3G = "MIG-c7384736-a75d-5afc-978f-d2f1294409fd"
LISTING = f"""GPU 0: NVIDIA GeForce RTX 4090 (UUID: {UUID_4090})
GPU 1: NVIDIA A100-SXM4-80GB (UUID: {UUID_A100})
  MIG 3g.40gb     Device  0: (UUID: {MIG_3G})
  MIG 1g.10gb     Device  1: (UUID: MIG-0f0f0f0f-a75d-5afc-978f-d2f1294409fd)"""


@pytest.mark.parametrize(
    ("visible", "auto", "seen"),
    [
        (UUID_A100, "80gb", "NVIDIA A100-SXM4-80GB"),  # a scheduler hands out GPU UUIDs
        (UUID_4090[:12], "24gb", "NVIDIA GeForce RTX 4090"),  # a unique prefix, as for CUDA
        (MIG_3G, "24gb", "NVIDIA A100-SXM4-80GB MIG 3g.40gb"),  # a MIG slice: its own memory
        (f"{UUID_4090},{UUID_A100}", "24gb", "NVIDIA GeForce RTX 4090"),
        ("GPU-", "cpu", None),  # ambiguous prefix: CUDA sees nothing either
        ("GPU-deadbeef", "cpu", None),  # a UUID of no card here
    ],
)
def test_gpus_named_by_uuid_map_to_nvidia_smis_cards(gpus, monkeypatch, visible, auto, seen):
    """Before: CUDA_VISIBLE_DEVICES=GPU-... left the visible list empty, so `auto` picked the
    cpu preset on a GPU machine."""
    env = {**gpus(RTX4090, A100), "FAKE_LIST": LISTING, "CUDA_VISIBLE_DEVICES": visible}
    proc = swiftkit("presets", env=env)
    assert f"auto picks '{auto}'" in proc.stdout, proc.stdout + proc.stderr
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    hardware.detect.cache_clear()
    try:
        names = [g.name for g in hardware.detect().visible]
    finally:
        hardware.detect.cache_clear()
    assert names[:1] == ([seen] if seen else [])


def test_mig_slice_memory_comes_from_its_profile():
    cards = hardware.parse_gpus(f"{RTX4090}\n{A100}")
    found = hardware.parse_list(LISTING + "\ngarbage line\n", cards)
    assert found[UUID_A100].memory_mib == 81920
    assert found[MIG_3G].memory_mib == 40 * 10**9 // 2**20  # 3g.40gb, nominal GB
    assert found[MIG_3G].compute_cap == 8.0 and found[MIG_3G].index == 1
    assert len(found) == 4


def test_doctor_exits_1_when_it_lists_an_error_that_stops_the_run(gpus, tmp_path):
    """Before: doctor exited 0 while listing an error that blocks the run."""
    r = gpu_recipe(tmp_path)
    blocked = swiftkit("doctor", str(r), env=gpus(RTX3060))  # 19.3 GiB on a 12 GB card
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "will not fit on GPU 0" in blocked.stdout
    assert "1 error(s) above stop this recipe on this machine (exit 1)" in blocked.stdout
    fits = swiftkit("doctor", str(r), env=gpus(RTX4090))
    assert fits.returncode == 0 and "error" not in fits.stdout, fits.stdout
    assert swiftkit("doctor", env=gpus(RTX3060)).returncode == 0  # no recipe: nothing blocks


def test_doctor_fixes_run_when_pasted_from_another_folder(tmp_path):
    """The fix for a GPU recipe on a machine without a GPU names commands: each runs as
    printed from another folder and keeps the recipe's identity (before: the shipped demo,
    which drops it, by a relative path)."""
    import re
    import shlex
    import subprocess
    import sys

    (tmp_path / "my bot ü").mkdir()
    r = gpu_recipe(tmp_path / "my bot ü")
    proc = swiftkit("doctor", str(r), env=no_gpu_env(tmp_path))
    assert proc.returncode == 1
    lines = re.findall(r"`(swiftkit [^`]+)`", proc.stdout)
    init = next(x for x in lines if x.startswith("swiftkit init"))
    assert "--name Swift-Robot" in init and "--preset cpu" in init
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["PYTHONPATH"] = str(RECIPES.parent)
    done = subprocess.run(
        ["sh", "-c", init], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    written = Path(shlex.split(init)[2]) / "recipe.toml"
    assert 'name = "Swift-Robot"' in written.read_text(encoding="utf-8")
    demo = next(x for x in lines if x.startswith("swiftkit run"))
    assert Path(shlex.split(demo)[2]).is_file()  # absolute: it runs from any folder
