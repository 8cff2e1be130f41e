"""After training, with the real ms-swift on the tiny model: one run is interrupted with
SIGINT after its first checkpoint, resumed to the end, then asked, served and merged."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import (
    DATASETS,
    free_port,
    swift_answer,
    swiftkit,
    swiftkit_popen,
    swiftkit_process,
    write_recipe,
)

pytestmark = pytest.mark.e2e
IDENTITY = "我是一个由 CSDN 迪菲赫尔曼 开发和维护的大语言模型。"
SAVE = 40


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def steps_logged(run_dir: Path) -> list[int]:
    steps = []
    for line in (run_dir / "logging.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "loss" in row and "global_step/max_steps" in row:
            steps.append(int(row["global_step/max_steps"].split("/")[0]))
    return steps


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    """Interrupt the tiny run after checkpoint-40 is complete, then --resume it."""
    tmp = tmp_path_factory.mktemp("after")
    recipe = write_recipe(
        tmp / "tiny.toml",
        tiny_model,
        [DATASETS / "self_cognition.json"],
        train=f"save_steps = {SAVE}",
    )
    recipe.write_text(recipe.read_text().replace("save_steps = 80\n", ""), encoding="utf-8")
    proc = swiftkit_popen("run", str(recipe), "--no-verify", cwd=tmp)
    output = tmp / "output"
    first = wait_for(
        lambda: next(output.glob(f"*/checkpoint-{SAVE}/trainer_state.json"), None),
        600,
        f"checkpoint-{SAVE}",
        proc,
    )
    proc.send_signal(signal.SIGINT)  # to swiftkit, which forwards it to ms-swift's group
    out, err = proc.communicate(timeout=180)
    run_dir = first.parent.parent
    interrupted = {
        "code": proc.returncode,
        "stdout": out,
        "stderr": err,
        "manifest": json.loads((run_dir / "manifest.json").read_text(encoding="utf-8")),
        "checkpoints": sorted(p.name for p in run_dir.glob("checkpoint-*")),
        "steps": steps_logged(run_dir),
    }
    start = time.monotonic()
    resumed = swiftkit_process("run", str(recipe), "--resume", "--no-verify", cwd=tmp, timeout=900)
    return {
        "tmp": tmp,
        "recipe": recipe,
        "run_dir": run_dir,
        "interrupted": interrupted,
        "resumed": resumed,
        "resume_seconds": time.monotonic() - start,
    }


def test_sigint_stops_the_run_and_keeps_its_checkpoints(trained):
    i = trained["interrupted"]
    assert i["code"] == 130, i["stdout"] + i["stderr"]
    assert i["manifest"]["status"] == "interrupted"
    assert f"checkpoint-{SAVE}" in i["checkpoints"]
    assert max(i["steps"]) < 240, "the run finished before SIGINT reached it"
    assert f"continue with: swiftkit run {trained['run_dir']} --resume" in i["stdout"]


def test_resume_finishes_in_the_same_folder_and_the_step_count_continues(trained):
    r, run_dir = trained["resumed"], trained["run_dir"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"run: {run_dir}\n" in r.stdout
    assert f"--resume_from_checkpoint {run_dir}/checkpoint-" in r.stdout
    assert sorted(p.name for p in run_dir.parent.iterdir()) == [run_dir.name]  # no new run
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "finished"
    assert manifest["steps"] == manifest["max_steps"] == 240
    assert len(manifest["resumed"]) == 1
    # logging.jsonl: the rows written after the resume start past the checkpoint, not at 1
    before = len(trained["interrupted"]["steps"])
    after = steps_logged(run_dir)[before:]
    assert after and after[0] > SAVE and after[-1] == 240, after
    state = json.loads((run_dir / "checkpoint-240" / "trainer_state.json").read_text("utf-8"))
    assert state["global_step"] == 240


def test_runs_json_lists_the_run_with_its_checkpoint(trained):
    proc = swiftkit("runs", "--json", cwd=trained["tmp"])
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["run"] == str(trained["run_dir"])
    assert row["status"] == "finished"
    assert row["latest_checkpoint"] == str(trained["run_dir"] / "checkpoint-240")
    assert row["recipe"] == str(trained["recipe"])
    assert row["steps"] == 240


def test_infer_answers_with_the_identity(trained):
    proc = swiftkit_process(
        "infer", "--prompt", "你是谁?", "--json", cwd=trained["tmp"], timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["checkpoint"] == str(trained["run_dir"] / "checkpoint-240")
    assert [a["answer"] for a in result["answers"]] == [IDENTITY]


def test_serve_answers_chat_completions_and_stops_with_its_child(trained):
    port = free_port()
    proc = swiftkit_popen("serve", str(trained["run_dir"]), "--port", str(port), cwd=trained["tmp"])
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        start = time.monotonic()
        wait_for(lambda: any("ready in" in x for x in lines), 300, "the server", proc)
        print(f"serve ready after {time.monotonic() - start:.1f}s")
        pid = int(next(re.search(r"server pid (\d+)", x) for x in lines if "server pid" in x)[1])
        # the adapter under the identity's name as written, the base model beside it
        assert any("model id Swift-Robot: the trained model" in x for x in lines), lines
        assert any("model id tiny-qwen2: the base model" in x for x in lines), lines
        answers = {}
        for model in ("Swift-Robot", "tiny-qwen2"):
            body = {
                "model": model,
                "messages": [{"role": "user", "content": "你是谁?"}],
                "temperature": 0,
                "max_tokens": 64,
            }
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                data=json.dumps(body).encode("utf-8"),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=120) as resp:
                reply = json.loads(resp.read())
            assert reply["model"] == model  # not the base model's folder name
            answers[model] = reply["choices"][0]["message"]["content"]
        assert answers["Swift-Robot"] == IDENTITY
        assert answers["tiny-qwen2"] != IDENTITY
        curls = [x.strip() for x in lines if x.strip().startswith("curl ")]
        assert len(curls) == 2, lines
        for curl in curls:  # pasted into a shell, each line asks its model
            pasted = subprocess.run(
                ["sh", "-c", curl], capture_output=True, text=True, timeout=120, check=True
            )
            assert json.loads(pasted.stdout)["choices"][0]["message"]["content"]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        reader.join(timeout=5)
    assert code == 0, "".join(lines) + proc.stderr.read()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    assert any("server stopped" in x and "gone" in x for x in lines)


def test_serve_with_an_api_key_refuses_a_request_without_it(trained):
    """The key from $SWIFTKIT_API_KEY: no key, or a wrong one, is refused; the printed curl
    line carries the header and answers when run in a shell that has the variable."""
    port, key = free_port(), "swiftkit-test-key"
    proc = swiftkit_popen(
        "serve",
        str(trained["run_dir"]),
        "--port",
        str(port),
        cwd=trained["tmp"],
        env={"SWIFTKIT_API_KEY": key},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("ready in" in x for x in lines), 300, "the server", proc)
        assert not any(key in x for x in lines), "the key is printed"
        log = next(trained["run_dir"].glob(f"serve-{port}.log")).read_text(encoding="utf-8")
        assert key not in log, "the key is in ms-swift's log (from its command line)"
        body = {
            "model": "swift-robot",
            "messages": [{"role": "user", "content": "你是谁?"}],
            "temperature": 0,
            "max_tokens": 64,
        }
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            headers = {"Content-Type": "application/json", **headers}
            req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(req, timeout=120)
            print(f"without the key: HTTP {refused.value.code} {refused.value.read()!r}")
            assert refused.value.code == 401  # ms-swift alone answers 400: plugin/deploy_auth
            assert refused.value.headers["WWW-Authenticate"] == "Bearer"
        curl = next(x.strip() for x in lines if x.strip().startswith("curl "))
        assert '-H "Authorization: Bearer $SWIFTKIT_API_KEY"' in curl
        pasted = subprocess.run(
            ["bash", "-c", curl],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SWIFTKIT_API_KEY": key},
        )
        answer = json.loads(pasted.stdout)["choices"][0]["message"]["content"]
        assert answer == IDENTITY
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        reader.join(timeout=5)
    assert code == 0, "".join(lines) + proc.stderr.read()


# Plain transformers in a fresh interpreter: no swift, no swiftkit, only the merged folder.
PLAIN_TRANSFORMERS = """
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer
folder, question = sys.argv[1], sys.argv[2]
tok = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder)
text = tok.apply_chat_template(
    [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
)
ids = tok(text, return_tensors="pt", add_special_tokens=False)
out = model.generate(**ids, max_new_tokens=64, do_sample=False)
answer = tok.decode(out[0][ids["input_ids"].shape[-1]:], skip_special_tokens=True)
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"swift", "swiftkit"})
print(json.dumps({"prompt": text, "answer": answer, "loaded": loaded}, ensure_ascii=False))
"""


def plain_transformers(folder: Path, question: str = "你是谁?") -> dict:
    """The folder's answer in a fresh interpreter, transformers only, no system message."""
    proc = subprocess.run(
        [sys.executable, "-c", PLAIN_TRANSFORMERS, str(folder), question],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_export_merge_answers_outside_swiftkit(trained, tmp_path):
    target = tmp_path / "merged"
    start = time.monotonic()
    proc = swiftkit_process(
        "export", "--merge", "--ollama", "--to", str(target), cwd=trained["tmp"]
    )
    print(f"export took {time.monotonic() - start:.1f}s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "chat_template.jinja").is_file()
    note = json.loads((target / "swiftkit-merge.json").read_text(encoding="utf-8"))
    assert note["system"] and note["merged_from"].endswith("checkpoint-240")
    assert swift_answer(["--model", str(target)], "你是谁?", tmp_path) == IDENTITY

    # outside swiftkit: plain transformers, no system message sent
    plain = plain_transformers(target)
    assert plain["loaded"] == []
    assert plain["prompt"].startswith(f"<|im_start|>system\n{note['system']}<|im_end|>\n")
    assert "You are Qwen" not in plain["prompt"]
    assert plain["answer"] == IDENTITY

    # the model card and the Modelfile say the same
    card = (target / "README.md").read_text(encoding="utf-8")
    assert note["system"] in card and "Swift-Robot" in card and str(trained["recipe"]) in card
    modelfile = (target / "Modelfile").read_text(encoding="utf-8")
    assert f"FROM {target}\n" in modelfile
    assert f'SYSTEM """{note["system"]}"""' in modelfile
    assert f"ollama create merged -f {target / 'Modelfile'}" in proc.stdout

    # a second merge to the same folder is refused and leaves it as it was
    before = sorted((p.name, p.stat().st_mtime_ns) for p in target.iterdir())
    again = swiftkit("export", "--merge", "--to", str(target), cwd=trained["tmp"])
    assert again.returncode == 1
    assert f"merge target exists: {target}" in again.stderr
    assert sorted((p.name, p.stat().st_mtime_ns) for p in target.iterdir()) == before
