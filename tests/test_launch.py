"""[launch]: torchrun's environment and --deepspeed in the rendered command, range and
consistency checks, hub datasets while offline, and a real 2-process CPU run (gloo)."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
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
from swiftkit.msswift.command import Command
from swiftkit.pipeline import launch

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


# ---- the one stop policy (launch.stop), for every child ----

DEAF = "import os, signal, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "


def child(tmp_path: Path, ignore: str) -> tuple[list[str], Path]:
    """A Python child that writes its pid, ignores the signals named, and sleeps a minute."""
    pid = tmp_path / "pid"
    code = DEAF + "".join(f"signal.signal(signal.{s}, signal.SIG_IGN); " for s in ignore.split())
    return [os.path.basename(sys.executable), "-c", code + "time.sleep(60)", str(pid)], pid


def wait_for(path: Path) -> int:
    deadline = time.monotonic() + 30
    while not (path.is_file() and path.read_text()):
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
    return int(path.read_text())


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_stop_kills_a_child_deaf_to_sigint_and_sigterm_after_the_grace(tmp_path):
    """A server or trainer that ignores both signals is not left running: SIGKILL at the end."""
    argv, pid_file = child(tmp_path, "SIGINT SIGTERM")
    bg = launch.Background(Command(argv), tmp_path / "log")
    wait_for(pid_file)
    start = time.monotonic()
    assert launch.stop(bg.proc, grace=0.3) == -signal.SIGKILL
    assert time.monotonic() - start < 5 and not launch.group_alive(bg.pgid)


def test_a_second_signal_hurries_the_stop_instead_of_waiting_the_whole_grace(tmp_path):
    """The user presses Ctrl-C again: SIGTERM now, not after the grace (and the clean-up is
    not cut short: the child is still stopped and reaped)."""
    argv, pid_file = child(tmp_path, "SIGINT")
    bg = launch.Background(Command(argv), tmp_path / "log")
    wait_for(pid_file)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    assert launch.stop(bg.proc, grace=60) == -signal.SIGTERM
    assert time.monotonic() - start < 10 and not launch.group_alive(bg.pgid)


def test_sigterm_during_a_run_stops_the_child_and_says_interrupted(tmp_path):
    """`kill PID` of swiftkit while ms-swift trains: the child's group is stopped with SIGINT
    (checkpoints stay) and the result says interrupted."""
    argv, pid_file = child(tmp_path, "")
    threading.Thread(
        target=lambda: (wait_for(pid_file), os.kill(os.getpid(), signal.SIGTERM)), daemon=True
    ).start()
    result = launch.run(Command(argv), log_path=tmp_path / "log")
    assert result.interrupted and result.returncode != 0
    assert gone(int(pid_file.read_text()))
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back


def test_sigterm_during_a_chat_stops_the_chat_child_too(tmp_path):
    """Bug: the chat child shares swiftkit's terminal and group; `kill PID` of swiftkit killed
    swiftkit alone and left `swift infer` running. Now it stops the child, then exits 130."""
    argv, pid_file = child(tmp_path, "")
    threading.Thread(
        target=lambda: (wait_for(pid_file), os.kill(os.getpid(), signal.SIGTERM)), daemon=True
    ).start()
    with pytest.raises(KeyboardInterrupt):
        launch.interactive(Command(argv))
    assert gone(int(pid_file.read_text()))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


CHATTY = """while True:
    question = input("<<< ")
    if question == "exit":
        break
    print("answer:", question)
"""


@pytest.mark.parametrize("given", ["Who are you?\n", "Who are you?", "", None])
def test_a_chat_from_a_file_or_dev_null_ends_at_the_end_of_input(tmp_path, given):
    """Bug: `swiftkit chat RUN < questions.txt`, or a script's `swiftkit chat RUN &` (its
    input /dev/null): ms-swift's input() met the end of input and its EOFError traceback
    reached the user, exit 1. Now swiftkit passes its input on, then `exit`."""
    import subprocess

    from conftest import child_env as checkout_env

    script = tmp_path / "chatty.py"
    script.write_text(CHATTY, encoding="utf-8")
    questions = tmp_path / "questions.txt"
    questions.write_text(given or "", encoding="utf-8")
    code = (
        "import sys; from swiftkit.msswift.command import Command; "
        "from swiftkit.pipeline import launch; "
        f"sys.exit(launch.interactive(Command([sys.executable, {str(script)!r}])))"
    )
    with questions.open() if given is not None else open(os.devnull) as stdin:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env=checkout_env(),
        )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert ("answer: Who are you?" in proc.stdout) == bool(given)
