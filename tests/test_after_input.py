"""Bad input to the after-training commands: exit 1, the path or port named, nothing deleted.
No ms-swift runs here: each case stops before anything is launched."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from conftest import assert_clean_failure, free_port, swiftkit

from swiftkit.msswift import argv as helpers
from swiftkit.msswift.command import Command
from swiftkit.pipeline.resolve import resolve


def fake_run(
    output: Path, name: str, status: str = "finished", steps=(), pid=None, **extra
) -> Path:
    """A run folder as `swiftkit run` leaves it, with adapter checkpoints but no weights."""
    run_dir = output / name
    run_dir.mkdir(parents=True)
    manifest = {
        "status": status,
        "recipe": str(output.parent / "r.toml"),
        "started": "2026-01-0" + name[-1] + "T00:00:00+00:00",
        "steps": max(steps) if steps else None,
        "max_steps": 240,
        "last_loss": 0.5,
        "pid": pid,
        **extra,
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for s in steps:
        ckpt = run_dir / f"checkpoint-{s}"
        ckpt.mkdir()
        (ckpt / "adapter_config.json").write_text("{}", encoding="utf-8")
        (ckpt / "args.json").write_text(json.dumps({"model": "/base"}), encoding="utf-8")
        (ckpt / "trainer_state.json").write_text(
            json.dumps({"global_step": s, "best_model_checkpoint": None}), encoding="utf-8"
        )
    return run_dir


def full_model(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}", encoding="utf-8")
    return path


def snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    "command",
    [
        ["chat"],
        ["infer", "-p", "hi"],
        ["serve", "--port", "1"],
        ["export", "--merge"],
        ["verify"],
    ],
)
def test_run_folder_missing(tmp_path, command):
    gone = tmp_path / "output" / "nope-20260101-000000"
    proc = swiftkit(*command[:1], str(gone), *command[1:], cwd=tmp_path)
    assert_clean_failure(proc, f"folder not found: {gone}")


def test_latest_without_any_run_names_where_it_looked(tmp_path, state_dir):
    """`latest` looks in the runs index and ./output; --output names one folder."""
    index = state_dir / "runs.jsonl"
    for _ in range(2):
        proc = swiftkit("infer", "-p", "hi", cwd=tmp_path)
        assert_clean_failure(proc, "no run yet", str(index), str(tmp_path / "output"))
        (tmp_path / "output").mkdir(exist_ok=True)
    proc = swiftkit("infer", "-p", "hi", "--output", str(tmp_path / "o2"), cwd=tmp_path)
    assert_clean_failure(proc, f"output folder not found: {tmp_path / 'o2'}")
    proc = swiftkit("infer", "-p", "hi", "--output", "output", cwd=tmp_path)
    assert_clean_failure(proc, f"no run in the output folder: {tmp_path / 'output'}")


def test_run_folder_without_checkpoint(tmp_path):
    run_dir = fake_run(tmp_path / "output", "r-1", status="interrupted")
    before = snapshot(tmp_path)
    for args in (["infer", str(run_dir), "-p", "hi"], ["export", str(run_dir), "--merge"]):
        proc = swiftkit(*args, cwd=tmp_path)
        assert_clean_failure(proc, f"no checkpoint in {run_dir}")
    proc = swiftkit("run", str(run_dir), "--resume", cwd=tmp_path)
    assert_clean_failure(proc, f"no checkpoint to resume from in {run_dir}")
    assert snapshot(tmp_path) == before


def test_full_checkpoint_where_an_adapter_is_needed(tmp_path):
    model = full_model(tmp_path / "merged")
    for args in (["export", str(model), "--merge"], ["infer", str(model), "--base", "-p", "x"]):
        proc = swiftkit(*args, cwd=tmp_path)
        assert_clean_failure(proc, f"not a LoRA adapter: {model}", "adapter_config.json")
    assert snapshot(tmp_path) == ["merged", "merged/config.json"]


def test_merge_target_exists_is_never_overwritten(tmp_path):
    run_dir = fake_run(tmp_path / "output", "r-1", steps=[80])
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    proc = swiftkit("export", "--merge", "--to", str(target), cwd=tmp_path)
    assert_clean_failure(proc, f"merge target exists: {target}")
    assert (target / "keep.txt").read_text(encoding="utf-8") == "mine"
    default = run_dir / "checkpoint-80-merged"
    default.mkdir()
    proc = swiftkit("export", "--merge", cwd=tmp_path)
    assert_clean_failure(proc, f"merge target exists: {default}")
    afile = tmp_path / "a file"  # --to a file: named a file, not "an existing folder"
    afile.write_text("mine", encoding="utf-8")
    proc = swiftkit("export", "--merge", "--to", str(afile), cwd=tmp_path)
    assert_clean_failure(proc, f"merge target exists: {afile}", "an existing file")
    assert afile.read_text(encoding="utf-8") == "mine"


def test_export_without_merge_is_a_usage_error(tmp_path):
    proc = swiftkit("export", cwd=tmp_path)
    assert proc.returncode == 2 and "--merge" in proc.stderr


def test_serve_refuses_a_port_in_use(tmp_path):
    fake_run(tmp_path / "output", "r-1", steps=[80])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = swiftkit("serve", "--port", str(port), cwd=tmp_path)
    assert_clean_failure(proc, f"port {port} is in use", f"127.0.0.1:{port}")
    assert not list((tmp_path / "output" / "r-1").glob("serve-*.log"))  # nothing launched


@pytest.mark.parametrize("host", ["not a host", "203.0.113.7"])
def test_serve_on_a_host_that_is_not_this_machine_names_the_host_not_the_port(tmp_path, host):
    fake_run(tmp_path / "output", "r-1", steps=[80])
    proc = swiftkit("serve", "--host", host, "--port", "8000", cwd=tmp_path)
    assert_clean_failure(proc, f"cannot serve on --host '{host}'", "not an address of this")
    assert "--port" not in proc.stdout + proc.stderr


def test_runs_shows_status_verdict_and_a_crashed_run(tmp_path):
    """Newest first; a "running" run whose process is gone (crashed, killed) has died."""
    out = tmp_path / "output"
    fake_run(out, "a-1", steps=[80, 160], verify={"verdict": "pass", "score": "5/5"})
    fake_run(out, "b-2", status="running", steps=[40], pid=2**22 + 12345)  # no such pid
    proc = swiftkit("runs", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    b, a = json.loads(proc.stdout)
    assert (a["name"], a["status"], a["verdict"]) == ("a-1", "finished", "pass")
    assert a["latest_checkpoint"] == str(out / "a-1" / "checkpoint-160")
    assert a["checkpoints"] == [str(out / "a-1" / f"checkpoint-{s}") for s in (80, 160)]
    assert b["status"] == "died"
    text = swiftkit("runs", str(out), cwd=tmp_path)
    assert "a-1  finished" in text.stdout and "verify pass" in text.stdout
    assert "b-2  died" in text.stdout
    assert text.stdout.index("b-2") < text.stdout.index("a-1")
    assert_clean_failure(swiftkit("runs", str(tmp_path / "nope")), str(tmp_path / "nope"))


def test_latest_is_the_newest_run_with_a_checkpoint(tmp_path):
    out = tmp_path / "output"
    fake_run(out, "r-1", steps=[80])
    fake_run(out, "r-2", steps=[40, 120])
    fake_run(out, "r-3", status="interrupted")  # newest, but nothing saved yet
    target = resolve("latest", out)
    assert target.checkpoint == out / "r-2" / "checkpoint-120" and target.adapter
    assert resolve(str(out / "r-1")).checkpoint == out / "r-1" / "checkpoint-80"
    ckpt = resolve(str(out / "r-2" / "checkpoint-40"))
    assert ckpt.checkpoint == out / "r-2" / "checkpoint-40" and ckpt.run_dir == out / "r-2"


def test_a_run_folder_means_the_checkpoint_its_run_recorded(tmp_path):
    """`swiftkit run` prints and verifies one checkpoint; chat, infer, serve, export and verify
    on the run folder (or `latest`) take that one too, and the newest when it is gone."""
    out = tmp_path / "output"
    run_dir = fake_run(out, "r-1", steps=[80, 160], checkpoint=str(out / "r-1" / "checkpoint-80"))
    assert resolve(str(run_dir)).checkpoint == run_dir / "checkpoint-80"
    assert resolve("latest", out).checkpoint == run_dir / "checkpoint-80"
    for f in (run_dir / "checkpoint-80").iterdir():
        f.unlink()
    (run_dir / "checkpoint-80").rmdir()
    assert resolve(str(run_dir)).checkpoint == run_dir / "checkpoint-160"


def test_a_folder_that_is_neither_run_nor_checkpoint(tmp_path):
    (tmp_path / "notes").mkdir()
    for command in (["chat"], ["verify"]):
        proc = swiftkit(*command, str(tmp_path / "notes"), cwd=tmp_path)
        assert_clean_failure(proc, f"no checkpoint in {tmp_path / 'notes'}", "neither a run folder")


def test_resume_refuses_a_finished_run(tmp_path):
    run_dir = fake_run(tmp_path / "output", "r-1", steps=[240])
    proc = swiftkit("run", str(run_dir), "--resume", cwd=tmp_path)
    assert_clean_failure(proc, f"run is finished, not resumable: {run_dir}")


def test_chat_renders_the_blog_line_on_the_resolved_checkpoint(tmp_path):
    ckpt = fake_run(tmp_path / "output", "r-1", steps=[80]) / "checkpoint-80"
    assert helpers.render_chat(ckpt).argv == [
        "swift",
        "infer",
        "--adapters",
        str(ckpt),
        "--stream",
        "true",
        "--temperature",
        "0",
        "--max_new_tokens",
        "2048",
    ]
    assert helpers.render_chat(ckpt, base=True).argv[2:4] == ["--model", "/base"]
    merged = full_model(tmp_path / "m")
    assert helpers.render_deploy(merged, "127.0.0.1", 8000, "x").argv[2:4] == [
        "--model",
        str(merged),
    ]


def test_after_training_commands_import_nothing_heavy(tmp_path):
    """Each command's module is imported (the calls fail on a missing folder, after import)."""
    from conftest import import_probe

    gone = str(tmp_path / "gone")
    argvs = [
        ["runs", gone],
        ["chat", gone],
        ["infer", gone, "-p", "x"],
        ["export", gone, "--merge"],
        ["serve", gone],
        ["run", gone, "--resume"],
    ]
    codes, heavy = import_probe(argvs)
    assert codes == [1] * len(argvs)
    assert heavy == [], f"heavy modules imported in the parent: {heavy}"


def test_background_stop_ends_the_whole_process_group():
    """A server's grandchildren go too (uvicorn workers, tokenizer threads in subprocesses)."""
    import os
    import time

    from swiftkit.pipeline import launch

    code = "import subprocess, time; subprocess.Popen(['sleep', '300']); time.sleep(300)"
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"swiftkit-bg-{os.getpid()}.log"
    server = launch.Background(Command(["python", "-c", code]), log)
    try:
        time.sleep(0.5)
        assert server.alive() and launch.group_alive(server.pgid)
    finally:
        server.stop(grace=2)
        log.unlink(missing_ok=True)
    assert not launch.group_alive(server.pgid)


@pytest.mark.e2e  # starts the real `swift deploy`
def test_serve_sigterm_while_starting_stops_the_child_group(tmp_path):
    """SIGTERM before the server answers: swiftkit stops the child's group and exits 0."""
    import os
    import re
    import signal

    from conftest import swiftkit_popen

    fake_run(tmp_path / "output", "r-1", steps=[80])
    proc = swiftkit_popen("serve", "--port", str(free_port()), cwd=tmp_path, stderr=None)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "server pid" in line:
            break
    pid = int(re.search(r"server pid (\d+)", lines[-1])[1])
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, "".join(lines) + out
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert "server stopped" in out


def test_a_server_that_dies_while_starting_is_reported_with_its_log(tmp_path):
    from swiftkit.errors import SwiftkitError
    from swiftkit.pipeline import launch
    from swiftkit.serving import server as serve

    code = "print('OSError: /base is not a model folder'); raise SystemExit(3)"
    log = tmp_path / "serve.log"
    server = launch.Background(Command(["python", "-c", code]), log)
    with pytest.raises(SwiftkitError) as err:
        serve.wait_ready(server, f"http://127.0.0.1:{free_port()}/v1/models", timeout=60)
    text = err.value.format()
    assert "exited (code 3) before it answered" in text
    assert str(log) in text and "/base is not a model folder" in text


def test_infer_file_reads_plain_lines_and_json(tmp_path):
    from swiftkit.commands import infer

    f = tmp_path / "q.txt"
    rows = [
        "你是谁?",
        "",
        json.dumps({"query": "你的名字是什么?"}, ensure_ascii=False),
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]}),
    ]
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = infer.read_prompts(f)
    assert [c[-1]["content"] for c in got] == ["你是谁?", "你的名字是什么?", "hi"]
    f.write_text('{"answer": "x"}\n', encoding="utf-8")
    assert_clean_failure(
        swiftkit("infer", "-f", str(f), cwd=tmp_path), f"unreadable prompt in {f}", f"{f}:1"
    )
    f.write_text("\n", encoding="utf-8")
    assert_clean_failure(swiftkit("infer", "-f", str(f), cwd=tmp_path), f"no prompts in {f}")


def test_infer_file_with_a_byte_order_mark_reads_its_first_line_as_json(tmp_path):
    """Bug: a BOM made the first JSON line a plain-text prompt, braces and all."""
    from swiftkit.commands import infer

    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"query": "你是谁?"}, ensure_ascii=False) + "\n", encoding="utf-8-sig")
    assert infer.read_prompts(f) == [[{"role": "user", "content": "你是谁?"}]]


def test_runs_shows_the_best_checkpoint_when_ms_swift_has_one(tmp_path):
    out = tmp_path / "output"
    run_dir = fake_run(out, "r-1", steps=[80, 160])
    state = {"global_step": 160, "best_model_checkpoint": str(run_dir / "checkpoint-80")}
    (run_dir / "checkpoint-160" / "trainer_state.json").write_text(json.dumps(state), "utf-8")
    (row,) = json.loads(swiftkit("runs", "--json", cwd=tmp_path).stdout)
    assert row["best_checkpoint"] == str(run_dir / "checkpoint-80")
    assert row["latest_checkpoint"] == str(run_dir / "checkpoint-160")
    assert "latest checkpoint-160  best checkpoint-80" in swiftkit("runs", cwd=tmp_path).stdout


def test_export_o_is_the_runs_folder_as_everywhere(tmp_path):
    """Before: -o was the runs folder in chat, infer and serve but the merged folder in
    export. Now -o is the runs everywhere; the old meaning gets a usage error naming --to."""
    fake_run(tmp_path / "elsewhere", "r-1", steps=[80])
    gone = tmp_path / "merged-here"
    proc = swiftkit("export", "--merge", "-o", str(gone), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "-o/--output is the folder holding the runs" in proc.stderr
    assert f"--merge --to {gone}" in proc.stderr and not gone.exists()
    # -o naming the runs: the run there is found (its merge target is then refused, so
    # nothing starts)
    run_dir = tmp_path / "elsewhere" / "r-1"
    (run_dir / "checkpoint-80-merged").mkdir()
    for flag in ("-o", "--output", "--runs-dir"):
        proc = swiftkit("export", "--merge", flag, str(tmp_path / "elsewhere"), cwd=tmp_path)
        assert_clean_failure(proc, f"merge target exists: {run_dir / 'checkpoint-80-merged'}")
