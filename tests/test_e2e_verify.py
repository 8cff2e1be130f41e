"""verify, infer --compare and serve through one `swift deploy` (the base weights loaded once,
the adapter beside them), with the real ms-swift on the tiny model, on a run whose folder
holds a space, a quote and non-ASCII characters (the checkpoint comes from ms-swift's own
record, logging.jsonl, never from its stdout)."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import DATASETS, swiftkit_popen, swiftkit_process, write_recipe

pytestmark = pytest.mark.e2e
IDENTITY = "我是一个由 CSDN 迪菲赫尔曼 开发和维护的大语言模型。"
ODD = "out put 数据 'q"


@pytest.fixture(scope="module")
def odd_run(tiny_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verify")
    recipe = write_recipe(tmp / "tiny.toml", tiny_model, [DATASETS / "self_cognition.json"])
    text = recipe.read_text(encoding="utf-8").replace(
        'output_dir = "output"', f'output_dir = "{ODD}"'
    )
    recipe.write_text(text, encoding="utf-8")
    proc = swiftkit_process("run", str(recipe), cwd=tmp, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(re.search(r"^run: (/.+)$", proc.stdout, re.M)[1])
    return {"tmp": tmp, "run": proc, "run_dir": run_dir}


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every process below `pid` (its own sessions included), with its command line."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        for child, ppid in parent.items():
            if ppid == p:
                try:
                    cmd = (Path("/proc") / str(child) / "cmdline").read_bytes()
                except OSError:
                    continue
                found.append((child, cmd.replace(b"\0", b" ").decode(errors="replace")))
                frontier.append(child)
    return found


def model_processes(pid: int) -> list[int]:
    """ms-swift processes that load a model (`swift/cli/<command>.py`), not its launcher."""
    return [p for p, cmd in descendants(pid) if "/swift/cli/" in cmd]


def test_the_run_verified_the_checkpoint_of_its_own_odd_folder(odd_run):
    out = odd_run["run"].stdout
    ckpt = Path(re.search(r"^checkpoint: (/.+)$", out, re.M)[1])
    assert ckpt.parent == odd_run["run_dir"] and ckpt.parent.parent.name == ODD
    assert (ckpt / "adapter_config.json").is_file()
    assert "identity: PASS" in out
    report = json.loads((odd_run["run_dir"] / "report.json").read_text(encoding="utf-8"))
    assert report["checkpoint"] == str(ckpt)


def test_verify_loads_the_model_once_and_says_where_it_is(odd_run):
    """At most one ms-swift process at any moment (sampled every 0.05 s), and it is the
    one deploy; the adapter >= 90 %, the base <= 10 %."""
    run_dir = odd_run["run_dir"]
    (run_dir / "report.json").unlink()  # no base answers to reuse: both are asked
    proc = swiftkit_popen("verify", str(run_dir), "--json", cwd=odd_run["tmp"])
    most, seen = 0, set()
    while proc.poll() is None:
        now = model_processes(proc.pid)
        seen.update(now)
        most = max(most, len(now))
        time.sleep(0.05)
    out, err = proc.communicate()
    print(f"model processes: at most {most} at once, {len(seen)} in all")
    assert proc.returncode == 0, out + err
    assert most == 1 and len(seen) == 1
    result = json.loads(out)
    assert result["verdict"] == "pass"
    assert result["identity"]["adapter"] >= 0.9 and result["identity"]["base"] <= 0.1
    assert "loading the model: swift deploy" in err and "model loaded in" in err
    assert re.search(r"^adapter (\d+)/\1$", err, re.M) and re.search(r"^base (\d+)/\1$", err, re.M)


def test_verify_again_reuses_the_base_answers(odd_run):
    proc = swiftkit_process("verify", str(odd_run["run_dir"]), "--json", cwd=odd_run["tmp"])
    assert proc.returncode == 0, proc.stderr
    report = json.loads((odd_run["run_dir"] / "report.json").read_text(encoding="utf-8"))
    assert report["base_answers_reused"] == len(report["probes"])
    assert "base " not in proc.stderr  # nothing asked of the base model


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_verify_and_its_child(odd_run, sig):
    proc = swiftkit_popen("verify", str(odd_run["run_dir"]), "--no-base", cwd=odd_run["tmp"])
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 600
    while not any("loading the model" in x for x in lines) or not model_processes(proc.pid):
        assert proc.poll() is None, "".join(lines)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    children = [p for p, _ in descendants(proc.pid)]
    start = time.monotonic()
    proc.send_signal(sig)
    code = proc.wait(timeout=30)
    while any(Path(f"/proc/{p}").exists() for p in children):
        assert time.monotonic() - start < 30
        time.sleep(0.02)
    print(f"{sig.name}: swiftkit and its children gone in {time.monotonic() - start:.2f} s")
    assert code == 130
    reader.join(timeout=5)
    assert "Traceback" not in "".join(lines)


def test_infer_compare_answers_with_base_and_adapter_from_one_load(odd_run):
    proc = swiftkit_process(
        "infer",
        str(odd_run["run_dir"]),
        "--compare",
        "-p",
        "你是谁?",
        "--json",
        cwd=odd_run["tmp"],
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["answers"]
    assert row["answer"] == IDENTITY
    assert row["base_answer"] and row["base_answer"] != IDENTITY
    assert (
        "Swift-Robot" in proc.stderr
        or json.loads(proc.stdout)["models"]["adapter"] == "Swift-Robot"
    )
