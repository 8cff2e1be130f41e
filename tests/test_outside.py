"""The identity outside swiftkit, without ms-swift: the merged folder's chat template and
generation defaults, the model card, the Ollama Modelfile, export's refusals, serve's API key,
and report.html's content. The real merge, the plain-transformers load and the served key are
in test_after_training.py; the browser screenshot in test_report_browser.py."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import assert_clean_failure, swiftkit
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.sandbox import ImmutableSandboxedEnvironment

from swiftkit.commands import export as export_cmd
from swiftkit.commands import serve as serve_cmd
from swiftkit.export import card, ollama
from swiftkit.export import template as chat
from swiftkit.resources import QWEN25_CHAT_TEMPLATE
from swiftkit.verify import html, report

QWEN = QWEN25_CHAT_TEMPLATE.read_text(encoding="utf-8")
QWEN_DEFAULT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
TRAINED = "You are a helpful assistant."
USER = [{"role": "user", "content": "你是谁?"}]
V1_REPORT = Path(__file__).parent / "v1_run" / "report.json"
# transformers renders chat templates in this environment
ENV = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)


def render(template: str, messages: list[dict], **extra) -> str:
    return ENV.from_string(template).render(messages=messages, add_generation_prompt=True, **extra)


# ---- the tiny model's template is Qwen2.5's, pitfall included ----


def test_the_tiny_models_template_injects_qwens_default_system_like_qwen2_5():
    from swiftkit import tinymodel

    assert tinymodel.CHAT_TEMPLATE == QWEN
    assert render(QWEN, USER).startswith(f"<|im_start|>system\n{QWEN_DEFAULT}<|im_end|>\n")
    tools = render(QWEN, USER, tools=[{"type": "function", "function": {"name": "f"}}])
    assert tools.startswith(f"<|im_start|>system\n{QWEN_DEFAULT}\n\n# Tools")


# ---- the merged template defaults to the trained system prompt ----


@settings(max_examples=60, deadline=None)
@given(system=st.text(min_size=1).filter(lambda s: "\x00" not in s))
def test_without_a_system_message_the_rewritten_template_renders_what_training_saw(system):
    """Any system text (quotes, backslashes, newlines, Jinja syntax, emoji) is rendered
    verbatim, exactly as if the client had sent it."""
    rewritten = chat.with_default_system(QWEN, system)
    expected = render(QWEN, [{"role": "system", "content": system}, *USER])
    assert render(rewritten, USER) == expected
    assert QWEN_DEFAULT not in render(rewritten, USER)


def test_a_clients_own_system_message_still_wins_and_tools_use_the_trained_default():
    rewritten = chat.with_default_system(QWEN, TRAINED)
    own = render(rewritten, [{"role": "system", "content": "Be brief."}, *USER])
    assert "Be brief." in own and TRAINED not in own
    tools = render(rewritten, USER, tools=[{"type": "function", "function": {"name": "f"}}])
    assert tools.startswith(f"<|im_start|>system\n{TRAINED}\n\n# Tools")


def test_rewriting_twice_keeps_one_header_with_the_latest_prompt():
    twice = chat.with_default_system(chat.with_default_system(QWEN, "FIRST-PROMPT"), TRAINED)
    assert twice.count(chat.MARK) == 2  # the header's opening and closing comment
    assert "FIRST-PROMPT" not in twice and twice.endswith(QWEN)


def test_a_template_that_starts_with_text_gets_no_extra_newline():
    plain = "{{ bos_token }}{% for m in messages %}[{{ m.content }}]{% endfor %}"
    assert render(chat.with_default_system(plain, "S"), USER, bos_token="B") == "B[S][你是谁?]"


def merged_folder(tmp: Path, *, jinja: bool = True, in_config: bool = True, eos=None) -> Path:
    """A merged folder's text files as ms-swift writes them (no weights needed here)."""
    folder = tmp / "merged"
    folder.mkdir()
    if jinja:
        (folder / "chat_template.jinja").write_text(QWEN, encoding="utf-8")
    cfg = {"eos_token": "<|im_end|>", **({"chat_template": QWEN} if in_config else {})}
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    added = [{"id": 0, "content": "<|endoftext|>"}, {"id": 2, "content": "<|im_end|>"}]
    (folder / "tokenizer.json").write_text(json.dumps({"added_tokens": added}), "utf-8")
    (folder / "generation_config.json").write_text(
        json.dumps({"eos_token_id": 0 if eos is None else eos}), encoding="utf-8"
    )
    return folder


def test_finish_rewrites_every_template_a_loader_reads(tmp_path):
    folder = merged_folder(tmp_path)
    done = chat.finish(folder, TRAINED)
    assert set(done.changed) >= {"chat_template.jinja", "tokenizer_config.json"}
    for template in (
        (folder / "chat_template.jinja").read_text(encoding="utf-8"),
        json.loads((folder / "tokenizer_config.json").read_text())["chat_template"],
    ):
        assert render(template, USER).startswith(f"<|im_start|>system\n{TRAINED}<|im_end|>")


def test_finish_rewrites_named_templates_in_tokenizer_config(tmp_path):
    folder = merged_folder(tmp_path, jinja=False, in_config=False)
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg["chat_template"] = [{"name": "default", "template": QWEN}, {"name": "rag", "template": 3}]
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    chat.finish(folder, TRAINED)
    named = json.loads((folder / "tokenizer_config.json").read_text())["chat_template"]
    assert chat.is_rewritten(named[0]["template"]) and named[1]["template"] == 3


def test_generation_config_that_misses_the_end_of_turn_token_gets_it(tmp_path):
    folder = merged_folder(tmp_path, eos=0)
    done = chat.finish(folder, TRAINED)
    assert json.loads((folder / "generation_config.json").read_text())["eos_token_id"] == [0, 2]
    assert "generation_config.json" in done.changed


def test_generation_config_that_stops_at_the_end_of_turn_is_left_as_is(tmp_path):
    folder = merged_folder(tmp_path, eos=[2, 0])
    done = chat.finish(folder, TRAINED)
    assert json.loads((folder / "generation_config.json").read_text())["eos_token_id"] == [2, 0]
    assert "generation_config.json" in done.checked


def test_a_merged_folder_without_the_rewrite_is_warned_about(tmp_path):
    folder = merged_folder(tmp_path)
    warned = export_cmd.check_merged(folder, TRAINED)
    assert any("not the training one" in f.message for f in warned)
    chat.finish(folder, TRAINED)
    assert not any(
        "not the training one" in f.message for f in export_cmd.check_merged(folder, TRAINED)
    )


# ---- the Ollama Modelfile ----


def go_render(template: str, values: dict[str, str]) -> str:
    """Ollama's Go template for the shape used here: {{ if .X }}A{{ else }}B{{ end }} and
    {{ .X }} (no nesting): enough to check what it renders."""

    def branch(m: re.Match) -> str:
        return m[2] if values.get(m[1]) else (m[3] or "")

    out = re.sub(
        r"\{\{ if \.(\w+) \}\}(.*?)(?:\{\{ else \}\}(.*?))?\{\{ end \}\}",
        branch,
        template,
        flags=re.S,
    )
    return re.sub(r"\{\{ \.(\w+) \}\}", lambda m: values.get(m[1], ""), out)


def modelfile_parts(text: str) -> dict[str, str]:
    parts = {}
    for key in ("TEMPLATE", "SYSTEM"):
        m = re.search(rf'^{key} """(.*?)"""$', text, re.S | re.M)
        if m:
            parts[key] = m[1]
    m = re.search(r"^FROM (.*)$", text, re.M)
    parts["FROM"] = m[1] if m else ""
    parts["stops"] = " ".join(re.findall(r'^PARAMETER stop "(.*)"$', text, re.M))
    return parts


def test_the_modelfile_renders_the_same_prompt_as_the_merged_chat_template(tmp_path):
    folder = merged_folder(tmp_path)
    chat.finish(folder, TRAINED)
    parts = modelfile_parts(ollama.modelfile(folder, TRAINED))
    assert parts["FROM"] == str(folder)
    assert parts["SYSTEM"] == TRAINED
    assert "<|im_end|>" in parts["stops"]
    # the turn being generated: Ollama cuts the template after {{ .Response }}
    generation = parts["TEMPLATE"].split("{{ .Response }}")[0]
    prompt = go_render(generation, {"System": parts["SYSTEM"], "Prompt": "你是谁?"})
    merged = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    assert prompt == render(merged, USER)


def test_a_modelfile_without_a_trained_system_has_no_system_line(tmp_path):
    assert "SYSTEM" not in ollama.modelfile(tmp_path, None)


# ---- export's refusals (before anything is launched) ----


def fake_adapter_run(tmp: Path, base: Path | str, system: str = TRAINED, ckpt: bool = True) -> Path:
    run = tmp / "output" / "r-1"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"recipe_resolved": {}}), encoding="utf-8")
    if ckpt:
        c = run / "checkpoint-10"
        c.mkdir()
        (c / "adapter_config.json").write_text("{}", encoding="utf-8")
        (c / "args.json").write_text(json.dumps({"model": str(base), "system": system}), "utf-8")
    return run


def test_export_refuses_an_existing_target_folder(tmp_path):
    run = fake_adapter_run(tmp_path, tmp_path / "base")
    (tmp_path / "taken").mkdir()
    proc = swiftkit("export", str(run), "--merge", "--to", str(tmp_path / "taken"))
    assert_clean_failure(proc, f"merge target exists: {tmp_path / 'taken'}", "refusing")


def test_an_interrupted_merge_is_an_interruption_not_a_failed_export(tmp_path, monkeypatch):
    """Bug: Ctrl-C during `swift export` said "swift export failed (exit -2)" and exited 1;
    the merge was stopped by the stop policy, as asked, so it is exit 130 like every command."""
    from swiftkit.pipeline import launch

    run = fake_adapter_run(tmp_path, tmp_path / "base")
    stopped = launch.Result(returncode=-2, interrupted=True)
    monkeypatch.setattr(export_cmd.launch, "run", lambda command, log_path: stopped)
    with pytest.raises(KeyboardInterrupt):
        export_cmd.execute(str(run), None, print, target_dir=tmp_path / "merged")


def test_export_refuses_a_run_with_no_checkpoint(tmp_path):
    run = fake_adapter_run(tmp_path, tmp_path / "base", ckpt=False)
    proc = swiftkit("export", str(run), "--merge")
    assert_clean_failure(proc, f"no checkpoint in {run}")


@pytest.mark.parametrize("code", ["modeling_evil.py", "config-auto_map", "tokenizer-auto_map"])
def test_export_refuses_a_base_model_folder_that_ships_code(tmp_path, code):
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    if code.endswith(".py"):
        (base / code).write_text("import os\n")
    else:
        name = "config.json" if code.startswith("config") else "tokenizer_config.json"
        (base / name).write_text(json.dumps({"auto_map": {"AutoModel": "x.Model"}}))
    run = fake_adapter_run(tmp_path, base)
    proc = swiftkit("export", str(run), "--merge", "--to", str(tmp_path / "m"))
    assert_clean_failure(proc, f"ships code: {base}", "--trust-remote-code")
    assert not (tmp_path / "m").exists()


def test_export_ollama_refuses_a_system_prompt_a_modelfile_cannot_hold(tmp_path):
    run = fake_adapter_run(tmp_path, tmp_path / "base", system='say """hi"""')
    proc = swiftkit("export", str(run), "--ollama", "--to", str(tmp_path / "m"))
    assert_clean_failure(proc, "cannot be written into an Ollama Modelfile")


def test_export_without_merge_or_ollama_is_a_usage_error(tmp_path):
    proc = swiftkit("export", str(tmp_path))
    assert proc.returncode == 2 and "only --merge is supported" in proc.stderr


# ---- the model card ----


def test_the_model_card_names_identity_base_system_recipe_and_scores(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    recipe = tmp_path / "r.toml"
    recipe.write_text('[identity]\nname = "Swift-Robot"\n', encoding="utf-8")
    manifest = {
        "recipe": str(recipe),
        "recipe_resolved": {"identity": {"name": "Swift-Robot", "author": "CSDN"}},
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (run / "report.json").write_text(V1_REPORT.read_text(encoding="utf-8"), encoding="utf-8")
    text = card.model_card(
        tmp_path / "merged",
        checkpoint=run / "checkpoint-240",
        run_dir=run,
        base_model="/models/tiny",
        system="Use ``` carefully",
        changed={"chat_template.jinja": "default system prompt set"},
    )
    assert "# Swift-Robot" in text and "author 'CSDN'" in text
    assert 'base_model: "/models/tiny"' in text
    assert "````\nUse ``` carefully\n````" in text  # a fence the prompt cannot close
    assert '[identity]\nname = "Swift-Robot"' in text
    assert "identity: PASS" in text and "| identity | 5 | 0% | 100% | >= 80% | pass |" in text
    assert "NOT the merged one" in text  # the v1 report measured another folder's checkpoint


def test_the_model_card_says_when_the_run_was_not_verified(tmp_path):
    text = card.model_card(
        tmp_path, checkpoint=tmp_path, run_dir=None, base_model=None, system=None, changed={}
    )
    assert "Not verified" in text


# ---- serve --api-key ----


class Launched(Exception):
    pass


@pytest.fixture
def no_launch(monkeypatch, tmp_path):
    """serve up to the launch: the command it would run, then stop."""
    seen = {}

    def fake(command, log):
        seen["argv"], seen["env"] = command.argv, command.env
        raise Launched

    monkeypatch.setattr(serve_cmd.launch, "Background", fake)
    run = fake_adapter_run(tmp_path, tmp_path / "base")
    return run, seen


def test_serve_passes_the_api_key_and_prints_it_masked_when_it_came_from_the_env(no_launch):
    run, seen = no_launch
    with pytest.raises(Launched):
        serve_cmd.execute(str(run), None, print, port=free(), api_key="s3cret", key_from_env=True)
    assert seen["env"]["SWIFTKIT_SERVE_API_KEY"] == "s3cret"
    assert not any("s3cret" in a for a in seen["argv"]), "the key is on the command line"
    plugin = seen["argv"][seen["argv"].index("--external_plugins") + 1]
    assert plugin.endswith("msswift/plugins/deploy_auth.py") and Path(plugin).is_file()


def test_serve_on_a_public_host_without_a_key_warns(no_launch, capsys):
    run, _ = no_launch
    with pytest.raises(Launched):
        serve_cmd.execute(str(run), None, print, host="0.0.0.0", port=free())
    out = capsys.readouterr().out
    assert "without an API key" in out and "--api-key" in out


def test_serve_on_loopback_or_with_a_key_does_not_warn(no_launch, capsys):
    run, _ = no_launch
    for kwargs in ({"host": "127.0.0.1"}, {"host": "0.0.0.0", "api_key": "k"}):
        with pytest.raises(Launched):
            serve_cmd.execute(str(run), None, print, port=free(), **kwargs)
    assert "without an API key" not in capsys.readouterr().out


def test_the_printed_command_shows_the_key_as_the_variable_or_as_given(no_launch, capsys):
    run, _ = no_launch
    with pytest.raises(Launched):
        serve_cmd.execute(str(run), None, print, port=free(), api_key="s3 cret", key_from_env=True)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("command:"))
    assert 'command: SWIFTKIT_SERVE_API_KEY="$SWIFTKIT_API_KEY" swift deploy ' in line
    assert "s3 cret" not in line
    with pytest.raises(Launched):
        serve_cmd.execute(str(run), None, print, port=free(), api_key="s3 cret")
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("command:"))
    assert "command: SWIFTKIT_SERVE_API_KEY='s3 cret' swift deploy " in line


def test_the_api_key_comes_from_the_environment_variable(no_launch):
    run, seen = no_launch
    # the fake launch's exception reaches main as a bug would: one line, exit 3
    proc = swiftkit("serve", str(run), "--port", str(free()), env={"SWIFTKIT_API_KEY": "fromenv"})
    assert proc.returncode == 3 and "Launched" in proc.stderr
    assert seen["env"]["SWIFTKIT_SERVE_API_KEY"] == "fromenv"


@pytest.mark.parametrize(
    "host,expected",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host, expected):
    assert serve_cmd.loopback(host) is expected


def free() -> int:
    from conftest import free_port

    return free_port()


# ---- report.html ----


def html_report(tmp: Path, probes_extra: dict | None = None) -> Path:
    """The v1 report rewritten into a run folder with a loss log, an answer holding markup,
    and the scorer's reasons."""
    run = tmp / "run"
    run.mkdir()
    (run / "logging.jsonl").write_text(
        "".join(
            json.dumps({"loss": 3.0 - s / 100, "global_step/max_steps": f"{s}/100"}) + "\n"
            for s in range(5, 105, 5)
        ),
        encoding="utf-8",
    )
    rep = report.VerifyReport.read(V1_REPORT)
    assert rep is not None
    rows = list(rep.probes)
    rows[0] = replace(rows[0], adapter="<script>alert(1)</script> 我是 Swift-Robot")
    rep = replace(rep, run_dir=str(run), checkpoint=str(run / "checkpoint-100"), probes=rows)
    report.write_report(rep)
    return run


def test_report_html_is_self_contained_and_shows_chart_answers_and_verdict(tmp_path):
    run = html_report(tmp_path)
    page = (run / html.REPORT_HTML).read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 我是 Swift-Robot" in page
    assert "identity: PASS" in page
    uri = re.search(r"src='data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)'", page)
    assert uri, "no embedded loss chart"
    svg = base64.b64decode(uri[1]).decode("utf-8")
    assert ">step<" in svg and ">loss<" in svg and "Training loss" in svg
    assert 'href="http' not in svg.replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    rep = report.VerifyReport.read(V1_REPORT)
    assert rep is not None
    for row in rep.probes[1:]:
        assert html.escape(row.base or "") in page and html.escape(row.adapter or "") in page


def test_report_html_shows_the_scorers_reasons_when_rows_have_them(tmp_path, monkeypatch):
    rep = report.VerifyReport.read(V1_REPORT)
    assert rep is not None
    rows = [replace(rep.probes[0], base_ok=False, base_why="affirms <Qwen> & no new name")]
    page = html.page(replace(rep, probes=rows), [], None)
    assert "affirms &lt;Qwen&gt; &amp; no new name" in page
    assert "No loss logged" in page


def test_every_verified_run_folder_gets_report_html(tmp_path):
    assert (html_report(tmp_path) / "report.html").is_file()
