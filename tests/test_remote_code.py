"""No code run unasked (issue 13): every command that loads a model folder refuses one that
ships code (auto_map in config.json or tokenizer_config.json, *.py files) before any child
process starts, unless the user opts in with --trust-remote-code."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import swiftkit

EVIL = "import os\nos.system('touch /tmp/swiftkit-evil-ran')\n"


@pytest.fixture
def no_child(monkeypatch):
    """Any child process is a failure: the refusal comes first."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a child process was started: {args[0] if args else kwargs}")

    monkeypatch.setattr(subprocess, "Popen", refuse)


def _code_folder(tiny_model, tmp_path, where: str):
    folder = tmp_path / "code-model"
    shutil.copytree(tiny_model, folder)
    if where == "py":
        (folder / "modeling_evil.py").write_text(EVIL)
    else:
        cfg = folder / where
        data = json.loads(cfg.read_text()) if cfg.is_file() else {}
        data["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilModel"}
        cfg.write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize("where", ["config.json", "tokenizer_config.json", "py"])
@pytest.mark.parametrize(
    "command",
    [
        ["infer", "-p", "你是谁?"],
        ["serve", "--port", "18123"],
        ["chat"],
    ],
    ids=lambda c: c[0] if isinstance(c, list) else c,
)
def test_a_code_carrying_folder_is_refused_before_any_child(
    tiny_model, tmp_path, no_child, where, command
):
    folder = _code_folder(tiny_model, tmp_path, where)
    proc = swiftkit(command[0], str(folder), *command[1:])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    assert "Traceback" not in err
    assert f"the model folder ships code: {folder} (not loaded)" in err
    named = "modeling_evil.py" if where == "py" else f"'auto_map' in {where}"
    assert named in err
    assert f"add --trust-remote-code to the same `swiftkit {command[0]}` command" in err


def test_verify_refuses_too(tiny_model, tmp_path, no_child):
    folder = _code_folder(tiny_model, tmp_path, "config.json")
    proc = swiftkit("verify", str(folder))
    assert proc.returncode == 1
    assert "'auto_map' in config.json" in proc.stderr


def test_opting_in_passes_the_guard(tiny_model, tmp_path):
    from swiftkit.commands import guard_model_code
    from swiftkit.errors import SwiftkitError
    from swiftkit.pipeline.resolve import resolve

    target = resolve(str(_code_folder(tiny_model, tmp_path, "py")))
    with pytest.raises(SwiftkitError):
        guard_model_code(target, False, "infer")
    guard_model_code(target, True, "infer")  # --trust-remote-code: no exception


def test_a_folder_without_code_passes_the_guard(tiny_model, tmp_path):
    from swiftkit.commands import guard_model_code
    from swiftkit.pipeline.resolve import resolve

    guard_model_code(resolve(str(tiny_model)), False, "infer")  # no exception
