"""The command group: every command registered and listed without importing its module, exit
codes returned by the commands, a bug in swiftkit as one line plus a log file (exit 3), and
`swiftkit recipes` (list, copy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import RECIPES, ROOT, child_env, swiftkit

from swiftkit import cli


def test_every_registered_command_is_the_command_of_that_name_and_listed_by_its_own_words():
    """The summary `--help` lists (written in cli.py, so no module is imported for it) is the
    start of the command's own help, so the two cannot drift apart."""
    group = cli.cli
    ctx = click.Context(group)
    for name, (_, summary) in cli.COMMANDS.items():
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name
        help_text = " ".join((command.help or "").split())
        assert help_text.startswith(summary), (name, summary, help_text)
    assert group.get_command(ctx, "no-such") is None


def test_help_lists_every_command_and_imports_none_of_their_modules():
    code = (
        "import sys\nfrom swiftkit.cli import main\ncode = main(['--help'])\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('swiftkit.commands')))\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split("Commands:")[1]
    for name in cli.COMMANDS:
        assert f"  {name} " in listed, name
    assert "LOADED []" in proc.stdout


def test_a_command_returns_its_exit_code(tmp_path):
    """A callback's return value is the exit code (no sys.exit in the commands)."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\n", encoding="utf-8")
    assert swiftkit("validate", str(bad)).returncode == 1
    assert swiftkit("validate", str(RECIPES / "tiny-cpu.toml")).returncode == 0
    assert swiftkit("nope").returncode == 2


def bug_in_runs(monkeypatch, exc: BaseException) -> None:
    from swiftkit.commands import runs

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(runs, "execute", boom)


def test_an_unexpected_exception_is_one_line_a_log_file_and_exit_3(tmp_path, monkeypatch):
    """Before: a bug's traceback reached the user's terminal."""
    bug_in_runs(monkeypatch, RuntimeError("the index moved\nsecond line"))
    state = tmp_path / "state dir"
    proc = swiftkit("runs", env={"SWIFTKIT_STATE_DIR": str(state)})
    assert proc.returncode == 3
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    head, _, where = lines[0].partition(", details in ")
    assert head == "swiftkit bug: RuntimeError: the index moved"
    log = Path(where)
    assert log.parent == state and log.name.startswith("bug-") and log.suffix == ".log"
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "second line" in text
    assert "in boom" in text  # the frame that raised


def test_a_bug_log_falls_back_to_the_temp_folder(tmp_path, monkeypatch):
    bug_in_runs(monkeypatch, KeyError("manifest"))
    blocker = tmp_path / "a file"
    blocker.write_text("", encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    proc = swiftkit("runs", env={"SWIFTKIT_STATE_DIR": str(blocker / "state")})
    assert proc.returncode == 3
    where = Path(proc.stderr.strip().partition(", details in ")[2])
    assert where.parent == temp and "KeyError" in where.read_text(encoding="utf-8")


def test_an_os_error_that_is_no_full_disk_is_a_bug_not_a_traceback(tmp_path, monkeypatch):
    """Before: main re-raised any OSError but ENOSPC/EDQUOT, so it ended in a traceback."""
    bug_in_runs(monkeypatch, PermissionError(13, "Permission denied", "/x/index.json"))
    proc = swiftkit("runs", env={"SWIFTKIT_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("swiftkit bug: PermissionError: [Errno 13] Permission denied")


def test_the_known_mappings_stay(tmp_path, monkeypatch):
    import errno

    from swiftkit.errors import SwiftkitError

    bug_in_runs(monkeypatch, SwiftkitError("no such run"))
    assert swiftkit("runs").returncode == 1
    bug_in_runs(monkeypatch, OSError(errno.ENOSPC, "No space left on device", "/x/y"))
    proc = swiftkit("runs")
    assert proc.returncode == 1 and "no space left on device: /x/y" in proc.stderr
    bug_in_runs(monkeypatch, KeyboardInterrupt())
    assert swiftkit("runs").returncode == 130


def test_recipes_lists_every_shipped_recipe_with_its_first_comment():
    proc = swiftkit("recipes")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert sorted(rows) == sorted(p.stem for p in RECIPES.glob("*.toml"))
    assert rows["tiny-cpu"].split(None, 1)[1] == (
        "The identity flow on a tiny random-weight Qwen2 model: CPU, float32, no download."
    )


def test_a_copied_recipe_runs_from_its_folder_and_never_overwrites(tmp_path):
    """The shipped recipe names its data relative to recipes/: the copy names the shipped
    data by absolute path and writes its output (and builds the tiny model) beside itself."""
    out = tmp_path / "my recipes"
    proc = swiftkit("recipes", "copy", "tiny-cpu", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    copy = out / "tiny-cpu.toml"
    text = copy.read_text(encoding="utf-8")
    assert '"../' not in text
    assert json.dumps(str(ROOT / "datasets" / "self_cognition.json"), ensure_ascii=False) in text
    assert 'output_dir = "output"' in text and 'id = ".models/tiny-qwen2"' in text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert swiftkit("validate", str(copy), cwd=elsewhere).returncode == 0
    from swiftkit import recipe

    loaded = recipe.load(copy)
    assert loaded.train.output_dir == out / "output"
    assert all(ref.path is not None and ref.path.is_file() for ref in loaded.data.datasets)
    copy.write_text("mine\n", encoding="utf-8")
    again = swiftkit("recipes", "copy", "tiny-cpu.toml", str(out))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert copy.read_text(encoding="utf-8") == "mine\n"


def test_copying_an_unknown_recipe_names_the_shipped_ones(tmp_path):
    proc = swiftkit("recipes", "copy", "tiny-cp", str(tmp_path))
    assert proc.returncode == 1
    assert "did you mean 'tiny-cpu'?" in proc.stderr and "identity-mixed" in proc.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", sorted(p.stem for p in RECIPES.glob("*.toml")))
def test_every_shipped_recipe_copied_out_still_validates(tmp_path, name):
    assert swiftkit("recipes", "copy", name, str(tmp_path)).returncode == 0
    assert swiftkit("validate", str(tmp_path / f"{name}.toml"), cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("option", ["--model", "--base-model", "--api-key"])
def test_verifys_url_options_without_url_are_a_usage_error(option):
    proc = swiftkit("verify", option, "x")
    assert proc.returncode == 2 and f"{option} needs --url" in proc.stderr
