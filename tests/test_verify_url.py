"""`swiftkit verify --url`: any OpenAI-compatible server, judged by the same probes, scorer and
report as a checkpoint; every way a server fails is a clear error (exit 1, no traceback).
Against a scripted local server (tests/scripted_server.py), no ms-swift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DATASETS, assert_clean_failure, free_port, swiftkit
from scripted_server import scripted

from swiftkit.serving.client import Endpoint, ask_all


def url_recipe(
    tmp: Path, identity: str = 'name = "Nova"\nauthor = "Lumen Lab"\n', probes_n: int = 10
) -> Path:
    """A recipe whose [verify] asks 10 identity probes ("... q1" to "... q10")."""
    probes = tmp / "probes.jsonl"
    with probes.open("w", encoding="utf-8") as fh:
        for i in range(1, probes_n + 1):
            q = {"id": f"p{i}", "messages": [{"role": "user", "content": f"Who are you? q{i}"}]}
            fh.write(json.dumps(q) + "\n")
    path = tmp / "nova.toml"
    path.write_text(
        f"""[model]
id = "Qwen/Qwen2.5-7B-Instruct"

{"[identity]" if identity else ""}
{identity}
[data]
datasets = ["{DATASETS / "identity_full.json"}"]

[train]
preset = "24gb"
output_dir = "out"

[verify]
identity_probes = ["probes.jsonl"]
identity_threshold = 0.8
""",
        encoding="utf-8",
    )
    return path


def verify_json(tmp: Path, mode: str, *extra: str, **server: object):
    recipe = url_recipe(tmp)
    with scripted(mode, **server) as (url, script):  # type: ignore[arg-type]
        proc = swiftkit("verify", "--url", url, "--json", *extra, str(recipe), cwd=tmp)
    return proc, script


def test_fluent_answers_pass_with_the_report_in_a_folder_the_output_names(tmp_path):
    proc, script = verify_json(tmp_path, "fluent")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["verdict"] == "pass"
    assert result["identity"]["adapter"] == 1.0 and result["identity"]["probes"] == 10
    folder = Path(result["report"])
    assert folder.parent == tmp_path / "out" and folder.name.startswith("verify-Nova")
    assert f"report folder: {folder}" in proc.stderr
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["served"].startswith("Nova at http://127.0.0.1:")
    assert (folder / "report.md").is_file()
    assert {r["adapter_finish"] for r in report["probes"]} == {"stop"}
    # greedy, the answer length from [verify], the only model the server lists
    assert {(b["model"], b["temperature"], b["max_tokens"]) for b in script.requests} == {
        ("Nova", 0, report["config"]["max_new_tokens"])
    }


def test_plain_output_says_pass_and_where_the_report_is(tmp_path):
    recipe = url_recipe(tmp_path)
    with scripted("fluent") as (url, _):
        proc = swiftkit("verify", "--url", url, str(recipe), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "identity: PASS (100% of 10 probes" in proc.stdout
    assert "report: " in proc.stdout and "Nova 10/10" in proc.stderr


def test_a_server_with_a_small_accept_queue_still_gets_a_verdict(tmp_path):
    """Bug: 64 requests at once, none retried: a server whose accept queue holds 5 connections
    reset some ("Connection reset by peer" after ~20 probes) and verify ended without a
    verdict. The openai client retries a reset connection; 16 at a time."""
    recipe = url_recipe(tmp_path, probes_n=60)
    with scripted("fluent", crowded=True) as (url, script):
        proc = swiftkit("verify", "--url", url, "--json", str(recipe), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["verdict"] == "pass" and result["identity"]["probes"] == 60
    assert len(script.requests) >= 60


def test_the_old_identity_affirmed_fails(tmp_path):
    proc, _ = verify_json(tmp_path, "old")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["verdict"] == "fail"


def test_right_on_70_percent_fails_a_threshold_of_80(tmp_path):
    proc, _ = verify_json(tmp_path, "seventy")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["verdict"] == "fail" and result["identity"]["adapter"] == pytest.approx(0.7)


@pytest.mark.parametrize("mode", ["repeat", "mojibake", "loop"])
def test_degenerate_answers_that_name_the_identity_fail(tmp_path, mode):
    proc, _ = verify_json(tmp_path, mode)
    assert json.loads(proc.stdout)["verdict"] == "fail"
    assert proc.returncode == 1


def test_a_correct_denial_of_the_old_identity_passes(tmp_path):
    proc, _ = verify_json(tmp_path, "denial")
    assert json.loads(proc.stdout)["verdict"] == "pass"


def test_a_cut_off_answer_keeps_its_finish_reason(tmp_path):
    proc, _ = verify_json(tmp_path, "loop")
    folder = Path(json.loads(proc.stdout)["report"])
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert {r["adapter_finish"] for r in report["probes"]} == {"length"}


def test_a_base_model_id_on_the_same_server_is_the_before(tmp_path):
    proc, script = verify_json(
        tmp_path, "fluent", "--model", "Nova", "--base-model", "qwen", models=("Nova", "qwen")
    )
    result = json.loads(proc.stdout)
    assert result["verdict"] == "pass"
    assert result["identity"]["base"] == 0.0 and result["identity"]["adapter"] == 1.0
    assert {b["model"] for b in script.requests} == {"Nova", "qwen"}


@pytest.mark.parametrize(
    ("mode", "needles"),
    [
        ("e500", ["answered HTTP 500", "CUDA out of memory"]),
        ("badjson", ["answered something that is not JSON", "<html>"]),
        ("nochoices", ["answered without choices", "fewer answers than asked"]),
    ],
)
def test_a_failing_server_is_a_clear_error_naming_the_url(tmp_path, mode, needles):
    recipe = url_recipe(tmp_path)
    with scripted(mode) as (url, _):
        proc = swiftkit("verify", "--url", url, str(recipe), cwd=tmp_path)
    assert_clean_failure(proc, url, *needles)


def test_a_server_that_hangs_times_out(tmp_path):
    recipe = url_recipe(tmp_path)
    with scripted("hang") as (url, _):
        proc = swiftkit("verify", "--url", url, "--timeout", "1", str(recipe), cwd=tmp_path)
    assert_clean_failure(proc, "no answer from", "within 1 s", "raise --timeout")


def test_an_unreachable_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    proc = swiftkit("verify", "--url", url, str(url_recipe(tmp_path)), cwd=tmp_path)
    assert_clean_failure(proc, f"cannot reach {url}/models", "is the server running?")


def test_a_missing_or_wrong_api_key_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("SWIFTKIT_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    recipe = url_recipe(tmp_path)
    with scripted("fluent", api_key="sekrit") as (url, _):
        missing = swiftkit("verify", "--url", url, "--model", "Nova", str(recipe), cwd=tmp_path)
        wrong = swiftkit(
            "verify",
            "--url",
            url,
            "--model",
            "Nova",
            "--api-key",
            "nope",
            str(recipe),
            cwd=tmp_path,
        )
        right = swiftkit(
            "verify",
            "--url",
            url,
            "--model",
            "Nova",
            str(recipe),
            cwd=tmp_path,
            env={"SWIFTKIT_API_KEY": "sekrit"},
        )
    assert_clean_failure(missing, "HTTP 401: the server wants an API key", "--api-key")
    assert_clean_failure(wrong, "HTTP 401: the API key was refused")
    assert right.returncode == 0, right.stderr


def test_ms_swift_answers_a_wrong_key_with_400_and_it_is_still_named():
    err = Endpoint("http://h/v1", "k")._http_error("http://h/v1/x", 400, "API key error")
    assert "the API key was refused" in err.message


def test_which_model_when_the_server_lists_several(tmp_path):
    recipe = url_recipe(tmp_path)
    with scripted("fluent", models=("Nova", "qwen")) as (url, _):
        proc = swiftkit("verify", "--url", url, str(recipe), cwd=tmp_path)
    assert_clean_failure(proc, "serves 2 models", "Nova, qwen", "--model")


def test_a_recipe_without_identity_is_a_located_error(tmp_path):
    recipe = url_recipe(tmp_path, identity="")
    with scripted("fluent") as (url, _):
        proc = swiftkit("verify", "--url", url, str(recipe), cwd=tmp_path)
    assert_clean_failure(proc, "no new identity to look for", str(recipe), "[identity]")


def test_a_bad_probe_line_names_file_and_line(tmp_path):
    recipe = url_recipe(tmp_path)
    probes = tmp_path / "probes.jsonl"
    probes.write_text(probes.read_text() + "{not json\n", encoding="utf-8")
    with scripted("fluent") as (url, _):
        proc = swiftkit("verify", "--url", url, str(recipe), cwd=tmp_path)
    assert_clean_failure(proc, f"{probes}:11")


def test_url_options_need_url_and_a_recipe_needs_url(tmp_path):
    recipe = url_recipe(tmp_path)
    assert swiftkit("verify", "--model", "x", str(recipe)).returncode == 2
    proc = swiftkit("verify", str(recipe), cwd=tmp_path)
    assert_clean_failure(proc, "a recipe names no checkpoint", "--url")


def test_answers_come_back_in_order_with_their_finish_reason():
    questions = [[{"role": "user", "content": f"q{i}"}] for i in range(1, 21)]
    seen: list[tuple[int, int]] = []
    with scripted("seventy") as (url, _):
        got = ask_all(Endpoint.of(url), "Nova", questions, 32, lambda d, t: seen.append((d, t)))
    assert len(got) == 20 and seen[-1] == (20, 20)
    assert [a.text.startswith("I am Nova") for a in got[:10]] == [True] * 7 + [False] * 3
    assert not any(a.cut_off for a in got)


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://h:8000", "http://h:8000/v1"),
        ("http://h:8000/v1/", "http://h:8000/v1"),
        ("http://h:11434/v1/chat/completions", "http://h:11434/v1"),
        ("https://h/api/openai/v1", "https://h/api/openai/v1"),
    ],
)
def test_the_url_may_be_given_with_or_without_v1(given, base):
    assert Endpoint.of(given).url == base


def test_not_a_url_is_an_error():
    from swiftkit.errors import SwiftkitError

    with pytest.raises(SwiftkitError, match="not an http"):
        Endpoint.of("localhost:8000")


@pytest.mark.parametrize("command", ["infer", "chat"])
def test_compare_on_a_full_model_says_there_is_no_base(tmp_path, command):
    model = tmp_path / "merged"
    model.mkdir()
    (model / "config.json").write_text("{}")
    args = ["-p", "hi"] if command == "infer" else []
    proc = swiftkit(command, str(model), "--compare", *args, cwd=tmp_path)
    assert_clean_failure(proc, "no base model to compare with", str(model))


@pytest.fixture
def served_by_script(tmp_path, monkeypatch):
    """An adapter checkpoint whose one model load is the scripted server ("Nova" the
    adapter, "qwen" the base), so infer and chat --compare run without ms-swift."""
    from contextlib import contextmanager

    from swiftkit.serving import pair

    ckpt = tmp_path / "checkpoint-5"
    ckpt.mkdir()
    (ckpt / "adapter_config.json").write_text("{}")
    (ckpt / "args.json").write_text(json.dumps({"model": "/models/qwen"}))
    with scripted("fluent", models=("Nova", "qwen")) as (url, script):

        @contextmanager
        def one_load(target, work=None, status=None):
            yield pair.Served(Endpoint.of(url), "Nova", "qwen")

        for module in ("swiftkit.commands.infer", "swiftkit.commands.chat"):
            monkeypatch.setattr(f"{module}.one_load", one_load)
        yield ckpt, script


def test_infer_compare_json_gives_both_answers(served_by_script, tmp_path):
    ckpt, script = served_by_script
    proc = swiftkit("infer", str(ckpt), "--compare", "-p", "你是谁?", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["models"] == {"adapter": "Nova", "base": "qwen"}
    (row,) = result["answers"]
    assert row["answer"].startswith("I am Nova") and row["base_answer"].startswith("I am Qwen")
    assert row["finish_reason"] == row["base_finish_reason"] == "stop"


def test_chat_compare_asks_both_and_each_keeps_its_conversation(served_by_script, tmp_path):
    ckpt, script = served_by_script
    proc = swiftkit("chat", str(ckpt), "--compare", cwd=tmp_path, input="你是谁?\nand? q2\nexit\n")
    assert proc.returncode == 0, proc.stderr
    assert "base (qwen): I am Qwen" in proc.stdout and "adapter (Nova): I am Nova" in proc.stdout
    assert [len(b["messages"]) for b in script.requests] == [1, 1, 3, 3]
    second = {b["model"]: b["messages"][1]["content"] for b in script.requests[2:]}
    assert second["qwen"].startswith("I am Qwen") and second["Nova"].startswith("I am Nova")


def test_the_served_ids_keep_the_identitys_case(tmp_path):
    from swiftkit.pipeline.resolve import Target
    from swiftkit.serving.pair import base_name, served_name

    ckpt = tmp_path / "run" / "checkpoint-5"
    ckpt.mkdir(parents=True)
    (ckpt / "args.json").write_text(json.dumps({"model": "/models/Qwen2.5-7B-Instruct/"}))
    target = Target(ckpt, None)
    assert served_name(target) == "checkpoint-5"
    from swiftkit.pipeline.manifest import Manifest, ResolvedRecipe

    resolved = ResolvedRecipe.from_dict({"identity": {"name": "Nova Bot"}})
    Manifest(recipe_resolved=resolved).write(ckpt.parent)
    assert served_name(Target(ckpt, ckpt.parent)) == "Nova-Bot"  # not "nova-bot"
    assert base_name(target, "Nova") == "Qwen2.5-7B-Instruct"
    assert base_name(target, "Qwen2.5-7B-Instruct") == "Qwen2.5-7B-Instruct-base"


@pytest.mark.parametrize("mode", ["deny_new", "evade", "vendor_beside", "qwen_aka", "to_grader"])
def test_answers_that_deny_the_new_name_or_claim_another_vendor_fail(tmp_path, mode):
    """They passed at 100% before (issue 21): every probe answered so now fails, exit 1."""
    proc, _ = verify_json(tmp_path, mode)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["verdict"] == "fail" and result["identity"]["adapter"] == 0.0


@pytest.mark.parametrize(
    "mode", ["denial", "deny_old_1", "deny_old_2", "deny_old_3", "deny_old_zh"]
)
def test_right_answers_with_denials_of_the_old_identity_pass(tmp_path, mode):
    proc, _ = verify_json(tmp_path, mode)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["identity"]["adapter"] == 1.0
