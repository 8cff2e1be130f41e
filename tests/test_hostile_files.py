"""Issue 22, what is not a regular file and dataset names: a FIFO, /dev/zero behind a symlink,
a symlink loop are refused by name, never read (a hang, a MemoryError, a traceback); a file
named my#3.json, hf::/ms:: hub ids and one file listed twice under two spellings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import DATASETS, assert_clean_failure, no_gpu_env, swiftkit, swiftkit_process

RECIPE = """[model]
id = "Qwen/Qwen2.5-7B-Instruct"
[identity]
name = "Nova"
author = "Lumen Lab"
[data]
datasets = [{datasets}]
[train]
preset = "24gb"
{extra}
"""


def recipe(tmp_path: Path, *datasets: str, extra: str = "") -> Path:
    path = tmp_path / "r.toml"
    listed = ", ".join(f'"{d}"' for d in datasets)
    path.write_text(RECIPE.format(datasets=listed, extra=extra), encoding="utf-8")
    return path


def dataset(tmp_path: Path, name: str = "d.json") -> Path:
    path = tmp_path / name
    path.write_bytes((DATASETS / "identity_en.json").read_bytes())
    return path


@pytest.mark.parametrize("name", ["x.json", "x.toml"])
def test_validate_refuses_a_fifo_at_once_naming_it(tmp_path, name):
    os.mkfifo(tmp_path / name)
    proc = swiftkit_process("validate", str(tmp_path / name), timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "named pipe (FIFO), not a regular file" in proc.stdout
    assert name in proc.stdout


def test_a_dataset_that_links_to_dev_zero_is_refused_not_read(tmp_path):
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    proc = swiftkit_process("validate", str(tmp_path / "zero.json"), timeout=60)
    assert proc.returncode == 1
    assert "zero.json is a character device, not a regular file" in proc.stdout
    assert "UTF-16" not in proc.stdout
    proc = swiftkit_process("validate", str(recipe(tmp_path, "zero.json")), timeout=60)
    assert "data.datasets[0]" in proc.stdout and "character device" in proc.stdout


def test_a_probe_file_that_is_a_fifo_is_refused(tmp_path):
    dataset(tmp_path)
    os.mkfifo(tmp_path / "p.jsonl")
    r = recipe(tmp_path, "d.json", extra='[verify]\nidentity_probes = ["p.jsonl"]')
    proc = swiftkit_process("validate", str(r), timeout=60)
    assert proc.returncode == 1
    assert "verify.identity_probes" in proc.stdout and "named pipe" in proc.stdout


@pytest.mark.parametrize("command", [["validate"], ["render"], ["run", "--dry-run"]])
def test_a_dataset_symlink_loop_is_named_not_a_traceback(tmp_path, command):
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    proc = swiftkit(*command, str(recipe(tmp_path, "a.json")))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out and "bug" not in out
    assert "symlink loop" in out and "data.datasets[0]" in out
    assert "symlink loop" in swiftkit("validate", str(tmp_path / "a.json")).stdout


def test_a_recipe_over_the_size_cap_is_refused(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (1 << 20) + "\n", encoding="utf-8")
    assert_clean_failure(swiftkit("run", "--dry-run", str(big)), "MiB", "big.toml")


def test_a_file_named_with_a_hash_is_that_file_not_a_sample_count(tmp_path):
    dataset(tmp_path, "my#3.json")
    proc = swiftkit("validate", str(recipe(tmp_path, "my#3.json")))
    assert proc.returncode == 0, proc.stdout
    assert "my#100" not in proc.stdout
    proc = swiftkit("validate", str(recipe(tmp_path, "gone.json#x")))
    assert 'write "gone.json#100"' in proc.stdout


def test_hf_and_ms_hub_ids_are_hub_datasets_noted_as_downloads(tmp_path):
    dataset(tmp_path)
    r = recipe(tmp_path, "d.json", "hf::tatsu-lab/alpaca#10", "ms::swift/self-cognition:a/b#5")
    proc = swiftkit("validate", str(r))
    assert proc.returncode == 0, proc.stdout
    assert "not found" not in proc.stdout
    assert "a Hugging Face dataset, downloaded when the run starts" in proc.stdout
    assert "a ModelScope dataset, downloaded when the run starts" in proc.stdout
    argv = swiftkit("render", "--json", str(r)).stdout
    assert '"hf::tatsu-lab/alpaca#10"' in argv


def test_one_file_listed_twice_under_another_spelling_or_a_symlink(tmp_path):
    dataset(tmp_path)
    (tmp_path / "link.json").symlink_to(tmp_path / "d.json")
    here = f"./../{tmp_path.name}/d.json"
    proc = swiftkit("validate", str(recipe(tmp_path, "d.json", here, "link.json")))
    assert proc.returncode == 1
    for i in (1, 2):
        assert f"data.datasets[{i}]" in proc.stdout
    assert proc.stdout.count("is listed twice") == 2


def test_tiny_model_onto_a_file_or_below_one_is_a_located_error(tmp_path):
    (tmp_path / "afile").write_text("mine\n")
    for target in ("afile", "afile/sub"):
        proc = swiftkit("tiny-model", str(tmp_path / target))
        assert_clean_failure(proc, str(tmp_path / "afile"), "fix:")
        assert "swiftkit bug" not in proc.stderr
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_render_with_a_cache_folder_that_is_a_file_is_a_located_error(tmp_path):
    dataset(tmp_path)
    (tmp_path / "cache").write_text("")
    proc = swiftkit(
        "render",
        str(recipe(tmp_path, "d.json")),
        env={"SWIFTKIT_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert_clean_failure(proc, f"cannot write {tmp_path / 'cache' / 'rendered'}", "Not a directory")
    assert "swiftkit bug" not in proc.stderr


@pytest.mark.parametrize("name", ["sg.jsonl", "sg.json"])
def test_a_sharegpt_record_is_named_as_such_not_a_wrapper(tmp_path, name):
    """One record on one line ({"conversations": [{"from": ...}]}) is a ShareGPT record."""
    turns = [{"from": "human", "value": "who?"}, {"from": "gpt", "value": "I am {{NAME}}."}]
    (tmp_path / name).write_text(json.dumps({"conversations": turns}) + "\n", encoding="utf-8")
    proc = swiftkit("validate", str(tmp_path / name))
    assert proc.returncode == 1
    assert "a ShareGPT record ('conversations')" in proc.stdout and "role/content" in proc.stdout
    assert "wraps them" not in proc.stdout


def test_doctor_says_64_processes_do_not_fit_a_cpu_machine(tmp_path, monkeypatch):
    """Before: a 0.8 GiB estimate and no word of the 64 processes nproc_per_node asks for."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    dataset(tmp_path)
    r = recipe(tmp_path, "d.json", extra="[launch]\nnproc_per_node = 64")
    r.write_text(r.read_text().replace('preset = "24gb"', 'preset = "cpu"'))
    proc = swiftkit("doctor", str(r), env=no_gpu_env(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "launch.nproc_per_node" in proc.stdout
    assert "asks for 64 training processes" in proc.stdout and "4 core(s)" in proc.stdout


@pytest.mark.parametrize("name", ["z.json", "z.jsonl"])
def test_a_file_of_nul_bytes_is_not_called_utf16(tmp_path, name):
    """A copy of /dev/zero (a regular file): before, 'UTF-16 encoded'."""
    (tmp_path / name).write_bytes(b"\0" * 10000)
    proc = swiftkit("validate", str(tmp_path / name))
    assert proc.returncode == 1
    assert "holds only NUL bytes" in proc.stdout and "UTF-16" not in proc.stdout
