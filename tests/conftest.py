"""Shared fixtures: run the CLI in a child process exactly as a user would, and the tiny model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
DATASETS = ROOT / "datasets"


def swiftkit(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 600,
    env: dict | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    """`python -m swiftkit ARGS` from this checkout, output captured as text."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "swiftkit", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """Tests never reach a model or dataset hub: swiftkit treats the hub as offline."""
    monkeypatch.setenv("SWIFTKIT_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny Qwen2 model, built once per test session by `swiftkit tiny-model`."""
    target = tmp_path_factory.mktemp("models") / "tiny-qwen2"
    proc = swiftkit("tiny-model", str(target))
    assert proc.returncode == 0, proc.stderr
    assert (target / "config.json").is_file()
    return target


def write_recipe(
    path: Path,
    model: Path | str,
    datasets: list[Path | str],
    extra: str = "",
    identity: str = 'name = "Swift-Robot"\nauthor = "CSDN 迪菲赫尔曼"',
    train: str = "",
) -> Path:
    """A CPU recipe for the tiny model with absolute paths, output under its own folder."""
    ds = ", ".join(f'"{d}"' for d in datasets)
    path.write_text(
        f"""[model]
id = "{model}"

[identity]
{identity}

[data]
datasets = [{ds}]

[train]
preset = "cpu"
num_train_epochs = 30
learning_rate = 4e-3
output_dir = "output"
save_steps = 80
{train}
{extra}
""",
        encoding="utf-8",
    )
    return path
