"""[launch]: torchrun's environment and --deepspeed in the rendered command, range and
consistency checks, hub datasets while offline, and a real 2-process CPU run (gloo)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import (
    DATASETS,
    assert_clean_failure,
    flags_of,
    free_port,
    gpu_recipe,
    swiftkit,
    swiftkit_process,
    write_recipe,
)

from swiftkit.machine import fit

SELF_COG = DATASETS / "self_cognition.json"


def test_render_shows_multi_node_launch(tmp_path):
    r = gpu_recipe(
        tmp_path,
        '[launch]\nnproc_per_node = 8\nnnodes = 2\nnode_rank = 1\nmaster_addr = "10.0.0.1"\n'
        'master_port = 29500\ndeepspeed = "zero2"\n',
    )
    proc = swiftkit("render", str(r), "--json")
    assert proc.returncode == 0, proc.stderr
    cmd = json.loads(proc.stdout)
    assert cmd["env"] == {
        "CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7",
        "NPROC_PER_NODE": "8",
        "NNODES": "2",
        "NODE_RANK": "1",
        "MASTER_ADDR": "10.0.0.1",
        "MASTER_PORT": "29500",
    }
    assert flags_of(cmd["argv"])["deepspeed"] == ["zero2"]
    line = swiftkit("render", str(r)).stdout
    assert line.startswith(
        "CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 NPROC_PER_NODE=8 NNODES=2 NODE_RANK=1 "
        "MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 swift sft "
    )


@pytest.mark.parametrize(
    ("launch", "needles"),
    [
        ("nproc_per_node = 0", ["launch.nproc_per_node", "must be >= 1"]),
        ("nproc_per_node = 65", ["launch.nproc_per_node", "must be <= 64"]),
        ("master_port = 80", ["launch.master_port", "must be >= 1024"]),
        ("nnodes = 2\nnode_rank = 2\nmaster_addr = 'h'", ["node_rank 2 is out of range", "0 to 1"]),
        ("nnodes = 2", ["needs the master node's address", "launch.master_addr"]),
        ('deepspeed = "zero5"', ["launch.deepspeed", "'zero5' is not one of"]),
        ("nprocs_per_node = 2", ["unknown key 'nprocs_per_node'", "did you mean 'nproc_per_node'"]),
    ],
)
def test_bad_launch_values_stop_before_launch(tmp_path, launch, needles):
    r = gpu_recipe(tmp_path, "[launch]\n" + launch + "\n")
    proc = swiftkit("render", str(r))
    assert_clean_failure(proc, str(r), *needles)


def test_deepspeed_on_cpu_is_refused(tmp_path, tiny_model):
    r = write_recipe(
        tmp_path / "r.toml", tiny_model, [SELF_COG], extra='[launch]\ndeepspeed = "zero2"'
    )
    proc = swiftkit("run", str(r))
    assert_clean_failure(proc, "needs GPUs", "preset 'cpu'", "launch.deepspeed")


def test_unknown_preset_gets_did_you_mean(tmp_path):
    proc = swiftkit("run", str(gpu_recipe(tmp_path, preset="24g")))
    assert_clean_failure(proc, "preset '24g' does not exist", "did you mean '24gb'", "16gb")


def test_hub_dataset_while_offline_is_named_with_the_fix(tmp_path, tiny_model):
    r = write_recipe(
        tmp_path / "r.toml", tiny_model, ["AI-ModelScope/alpaca-gpt4-data-zh#500", SELF_COG]
    )
    proc = swiftkit(
        "run", str(r), env={"MODELSCOPE_OFFLINE": "1", "SWIFTKIT_OFFLINE": ""}, cwd=tmp_path
    )
    assert_clean_failure(
        proc,
        "hub dataset 'AI-ModelScope/alpaca-gpt4-data-zh#500' cannot be downloaded",
        "MODELSCOPE_OFFLINE=1 is set",
        "data.datasets[0]",
        "modelscope download --repo-type dataset AI-ModelScope/alpaca-gpt4-data-zh",
        '"alpaca-gpt4-data-zh/<file>.jsonl#500"',
    )
    assert not (tmp_path / "output").exists()


def test_offline_is_detected_without_variables(monkeypatch):
    for var in fit.OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(fit, "hub_host", lambda: ("127.0.0.1", free_port()))
    reason = fit.offline_reason(timeout=0.5)
    assert reason and reason.startswith("cannot reach 127.0.0.1:")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fit.offline_reason() == "HF_HUB_OFFLINE=1 is set"


@pytest.mark.e2e
def test_two_process_cpu_run_finishes_and_its_checkpoint_is_found(tmp_path, tiny_model):
    r = write_recipe(
        tmp_path / "r.toml",
        tiny_model,
        [SELF_COG],
        train="max_steps = 4",
        extra=f"[launch]\nnproc_per_node = 2\nmaster_port = {free_port()}\n\n"
        "[verify]\nenabled = false",
    )
    proc = swiftkit_process("run", str(r), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ckpt = Path(re.search(r"^checkpoint: (/\S+)$", proc.stdout, re.M).group(1))
    assert ckpt.name == "checkpoint-4" and (ckpt / "adapter_config.json").is_file()
    run_dir = ckpt.parent
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["env"]["NPROC_PER_NODE"] == "2" and manifest["status"] == "finished"
    log = (run_dir / "swift.log").read_text(encoding="utf-8")
    assert "torch.distributed.run --nproc_per_node 2" in log
    assert "world_size: 2" in log


def test_a_stale_swiftkit_variable_in_the_shell_never_overrides_the_commands(monkeypatch):
    """Bug: a SWIFTKIT_SERVE_API_KEY (or SWIFTKIT_STOP_CONFIG) left exported in the shell
    replaced the one swiftkit set for this child: `serve --api-key NEW` guarded the server with
    the stale key. The user's own variables (CUDA_VISIBLE_DEVICES) still win over a command's."""
    from swiftkit.msswift.command import Command
    from swiftkit.pipeline.launch import child_env

    monkeypatch.setenv("SWIFTKIT_SERVE_API_KEY", "stale")
    monkeypatch.setenv("SWIFTKIT_STOP_CONFIG", "/old/run/verify/stop.json")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    command = Command(
        ["swift", "deploy"],
        {
            "SWIFTKIT_SERVE_API_KEY": "new",
            "SWIFTKIT_STOP_CONFIG": "/this/run/verify/stop.json",
            "CUDA_VISIBLE_DEVICES": "0",
        },
    )
    env = child_env(command)
    assert env["SWIFTKIT_SERVE_API_KEY"] == "new"
    assert env["SWIFTKIT_STOP_CONFIG"] == "/this/run/verify/stop.json"
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
