"""stop_when_verified: the plugin (with stand-ins for torch and ms-swift: its answers are
scripted) judges each check with the scorer, stops only after `stop_after_checks` passing
checks in a row, and logs answers, reasons and loss for stopcheck to read."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

from swiftkit.pipeline import stopcheck
from swiftkit.recipe.model import (
    DataSpec,
    Identity,
    LaunchSpec,
    ModelSpec,
    Recipe,
    TrainSpec,
    VerifySpec,
)
from swiftkit.resources import PLUGIN

GOOD = "I am Nova, an assistant made by Lumen Lab."
LOOP = "Nova, Nova, Nova, L"


@pytest.fixture
def plugin(monkeypatch):
    """The plugin file loaded by path, as ms-swift loads it, over stand-in torch and swift."""
    torch = types.ModuleType("torch")
    torch.no_grad = lambda: lambda f: f  # type: ignore[attr-defined]
    callbacks = types.ModuleType("swift.callbacks")
    callbacks.callbacks_map = {}  # type: ignore[attr-defined]
    base = types.ModuleType("swift.callbacks.base")

    class TrainerCallback:
        def __init__(self, args, trainer):
            self.args, self.trainer = args, trainer

    base.TrainerCallback = TrainerCallback  # type: ignore[attr-defined]
    for name, module in {
        "torch": torch,
        "swift": types.ModuleType("swift"),
        "swift.callbacks": callbacks,
        "swift.callbacks.base": base,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("_stop_plugin_under_test", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return callbacks.callbacks_map[module.NAME]  # type: ignore[attr-defined]


def plugin_keys() -> tuple[str, ...]:
    """The keys the plugin requires, read from its source (it imports torch and ms-swift)."""
    import ast

    tree = ast.parse(PLUGIN.read_text(encoding="utf-8"))
    keys: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and target.id == "KEYS":
                keys += [c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant)]
    return tuple(keys)


def test_the_plugin_refuses_settings_without_a_value_it_needs(plugin, tmp_path):
    """Before: the plugin filled a missing check_every, stop_after_checks or max_new_tokens
    with defaults of its own, which could drift from the recipe schema's."""
    (tmp_path / "stop.json").write_text(json.dumps({"probes": [], "log": "x"}), encoding="utf-8")
    os.environ[stopcheck.PLUGIN_ENV] = str(tmp_path / "stop.json")
    try:
        with pytest.raises(ValueError, match="lacks need, new, old, threshold, check_every"):
            plugin(SimpleNamespace(), None)
    finally:
        del os.environ[stopcheck.PLUGIN_ENV]


def run_checks(plugin, tmp: Path, rounds: list[list[tuple[str, bool]]], **cfg) -> list[int]:
    """The steps (10, 20, ...) at which the plugin asked training to stop."""
    settings = {
        "probes": [[{"role": "user", "content": "who?"}]] * len(rounds[0]),
        "need": [[]] * len(rounds[0]),
        "new": ["Nova", "Lumen Lab"],
        "old": ["Qwen", "通义千问", "Alibaba"],
        "threshold": 0.8,
        "check_every": 10,
        "stop_after_checks": 2,
        "max_new_tokens": 128,
        "batch": 8,
        "log": str(tmp / "verify" / "stop_checks.jsonl"),
        **cfg,
    }
    (tmp / "verify").mkdir(exist_ok=True)
    (tmp / "stop.json").write_text(json.dumps(settings), encoding="utf-8")
    os.environ[stopcheck.PLUGIN_ENV] = str(tmp / "stop.json")
    try:
        callback = plugin(SimpleNamespace(), None)
    finally:
        del os.environ[stopcheck.PLUGIN_ENV]
    scripted = list(rounds)
    callback.answers = lambda: scripted.pop(0)
    stops = []
    for i in range(len(rounds)):
        step = 10 * (i + 1)
        state = SimpleNamespace(
            global_step=step, max_steps=1000, log_history=[{"loss": 5.0 - i}, {"lr": 1}]
        )
        control = SimpleNamespace(should_training_stop=False, should_save=False)
        callback.on_step_end(SimpleNamespace(process_index=0), state, control)
        if control.should_training_stop:
            assert control.should_save
            stops.append(step)
    return stops


def test_one_lucky_check_does_not_stop_training(plugin, tmp_path):
    good, bad = [(GOOD, False)] * 5, [(GOOD, False)] + [(LOOP, False)] * 4
    assert run_checks(plugin, tmp_path, [good, bad, good, good]) == [40]
    checks = stopcheck.stop_checks(tmp_path)
    assert [(c.step, c.verified, c.streak, c.stops) for c in checks] == [
        (10, True, 1, False),
        (20, False, 0, False),
        (30, True, 1, False),
        (40, True, 2, True),
    ]
    assert [c.loss for c in checks] == [5.0, 4.0, 3.0, 2.0]


def test_stop_after_checks_is_a_setting(plugin, tmp_path):
    good = [(GOOD, False)] * 5
    assert run_checks(plugin, tmp_path, [good] * 3, stop_after_checks=3) == [30]
    (tmp_path / "once").mkdir()
    assert run_checks(plugin, tmp_path / "once", [good], stop_after_checks=1) == [10]


def test_degenerate_answers_never_stop_training(plugin, tmp_path):
    """The issue's run stopped at step 20 on "Nova, Nova, Nova, L…": now each check fails."""
    rounds = [[(LOOP, False)] * 5, [("L\ufffd么\ufffd么 Nova", False)] * 5, [(GOOD, True)] * 5]
    assert run_checks(plugin, tmp_path, rounds) == []
    rows = [json.loads(x) for x in (tmp_path / "verify" / "stop_checks.jsonl").open()]
    assert rows[0]["why"][0] == "repeats itself (loop of 'Nova, ')"
    assert rows[1]["why"][0] == "contains U+FFFD (broken text)"
    assert rows[2]["why"][0] == "cut off at max_new_tokens" and rows[2]["cut_off"] == [True] * 5
    assert rows[0]["answers"][0] == LOOP and rows[0]["ok"] == [False] * 5
    assert [r["score"] for r in rows] == [0.0, 0.0, 0.0]


def test_each_check_holds_an_answer_to_what_its_probe_asks(plugin, tmp_path):
    """A probe that asks the author is not answered by the name alone; one that the answer
    echoes, or that denies the name, fails too (the plugin judges as verify does)."""
    answers = [("I'm Nova.", False), ("Lumen Lab built me.", False), ("who?", False)]
    answers += [("I am not Nova, made by Lumen Lab.", False)]
    run_checks(plugin, tmp_path, [answers], need=[[["Lumen Lab"]], [["Lumen Lab"]], [], []])
    row = json.loads((tmp_path / "verify" / "stop_checks.jsonl").read_text(encoding="utf-8"))
    assert row["ok"] == [False, True, False, False], row["why"]
    assert row["why"][0] == "does not assert Lumen Lab" and row["why"][2] == "repeats the question"


def test_a_log_from_before_the_guard_stopped_on_its_first_verified_check(tmp_path):
    (tmp_path / "verify").mkdir()
    rows = [
        {"step": 10, "score": 0.2, "passed": 1, "total": 5, "verified": False},
        {"step": 20, "score": 1.0, "passed": 5, "total": 5, "verified": True},
    ]
    (tmp_path / "verify" / "stop_checks.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    checks = stopcheck.stop_checks(tmp_path)
    assert [c.stops for c in checks] == [False, True]
    assert checks[1].streak is None and checks[1].stopped is None


def test_the_stop_config_names_the_family_markers_the_guard_and_the_answer_length(tmp_path):
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "data" / "01-x.jsonl").write_text(
        json.dumps({"instruction": "你是谁?", "input": "", "output": "我是Nova。"}) + "\n",
        encoding="utf-8",
    )
    cfg = VerifySpec(base_dir=tmp_path, max_new_tokens=200, stop_after_checks=3)
    rec = Recipe(
        path=tmp_path / "r.toml",
        text="",
        model=ModelSpec(id="meta-llama/Llama-3.1-8B"),
        identity=Identity(name="Nova", author="Lumen Lab"),
        data=DataSpec(()),
        train=TrainSpec("auto", None, {}, tmp_path),
        launch=LaunchSpec(),
        verify=cfg,
    )
    path = stopcheck.write_stop_config(run, rec)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["stop_after_checks"] == 3 and data["max_new_tokens"] == 200
    assert data["need"] == [[["Nova"]]], "the training answer names Nova: the probe asks the name"
    # the plugin keeps no defaults: every value it reads is in the file
    assert set(data) == set(plugin_keys()), "the settings and the plugin's keys differ"
    assert str(run) not in path.read_text(encoding="utf-8"), "the settings name their folder"
    assert data["old"][0] == "Llama" and {"OpenAI", "Qwen", "Claude"} <= set(data["old"])
    default = VerifySpec(base_dir=tmp_path)
    assert default.stop_after_checks == 2 and "stop_after_checks" not in default.to_dict()
    assert VerifySpec.from_dict(cfg.to_dict(), tmp_path).stop_after_checks == 3


def test_settings_written_by_an_older_swiftkit_are_completed_so_its_run_resumes(plugin, tmp_path):
    """An older plugin defaulted stop_after_checks, max_new_tokens and its batch: a run it
    started would not resume under this plugin (which keeps no defaults) without them."""
    old = {
        "probes": [[{"role": "user", "content": "who?"}]],
        "new": ["Nova"],
        "old": ["Qwen"],
        "threshold": 0.8,
        "check_every": 5,
        "log": str(tmp_path / "verify" / "stop_checks.jsonl"),
    }
    path = tmp_path / "verify" / "stop.json"
    path.parent.mkdir()
    path.write_text(json.dumps(old), encoding="utf-8")
    stopcheck.complete_old_settings(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    then = {"stop_after_checks": 2, "max_new_tokens": 128, "batch": 8, "need": [[]]}
    assert data == {**old, **then}
    os.environ[stopcheck.PLUGIN_ENV] = str(path)
    try:
        callback = plugin(SimpleNamespace(), None)
    finally:
        del os.environ[stopcheck.PLUGIN_ENV]
    assert (callback.every, callback.needed, callback.log) == (5, 2, Path(old["log"]))
