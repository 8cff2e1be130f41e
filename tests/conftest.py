"""Shared fixtures: run the CLI in a child process exactly as a user would, and the tiny model."""

from __future__ import annotations

import json
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


HEAVY = ("torch", "transformers", "swift", "peft", "modelscope")
PROBE = """
import sys
from swiftkit.cli import main
codes = [main(a) for a in {argvs!r}]
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
import json
print('RESULT', json.dumps([codes, heavy]))
"""


def import_probe(argvs: list[list[str]], prelude: str = "") -> tuple[list[int], list[str]]:
    """Run CLI calls in one fresh interpreter; their exit codes and the heavy modules loaded."""
    code = PROBE.replace("from swiftkit.cli import main", prelude + "from swiftkit.cli import main")
    out = subprocess.run(
        [sys.executable, "-c", code.format(argvs=argvs, heavy=HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    codes, heavy = json.loads(out.split("RESULT ")[-1])
    return codes, heavy


def swift_answer(flags: list[str], question: str, tmp: Path) -> str:
    """The real `swift infer` (greedy) answer to one question, with --adapters or --model."""
    q = tmp / "q.jsonl"
    q.write_text(
        json.dumps({"messages": [{"role": "user", "content": question}]}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    res = tmp / "r.jsonl"
    swift = Path(sys.executable).parent / "swift"
    subprocess.run(
        [str(swift), "infer", *flags, "--val_dataset", str(q), "--result_path", str(res)]
        + ["--temperature", "0", "--max_new_tokens", "64"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads(res.read_text(encoding="utf-8").splitlines()[0])["response"]


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
