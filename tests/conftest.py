"""Shared fixtures and helpers: the CLI in this process (`swiftkit`) or in a child process
(`swiftkit_process`, `swiftkit_popen`), the tiny model, recipe writers, fake GPUs
(`fake_gpus`), free ports."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
DATASETS = ROOT / "datasets"


def _runner() -> CliRunner:
    """click < 8.2 mixes stderr into stdout unless told not to; 8.2 dropped the argument."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _clear_caches() -> None:
    """Caches that depend on the environment a call runs in (PATH finds nvidia-smi)."""
    from swiftkit.machine import hardware

    hardware.detect.cache_clear()


def swiftkit(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`swiftkit ARGS` in this process, as `swiftkit.cli.main` runs it (exit code, stdout and
    stderr apart), in `cwd` (default the checkout) with `env` set on top of os.environ and
    `input` as stdin (never a terminal); the directory and environment are restored after."""
    from swiftkit.cli import main

    _clear_caches()
    try:
        with _cwd(cwd or ROOT), _runner().isolation(input=input, env=env) as streams:
            code = main(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
            out, err = streams[0].getvalue(), streams[1].getvalue()
    finally:
        _clear_caches()
    return subprocess.CompletedProcess(list(args), code, out.decode(), err.decode())


def swiftkit_argv(*args: str) -> list[str]:
    """`python -m swiftkit ARGS` with this interpreter: a list, never a shell line."""
    return [sys.executable, "-m", "swiftkit", *args]


def child_env(env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """os.environ with this checkout first on PYTHONPATH and `env` on top (None unsets)."""
    full = dict(os.environ)
    full["PYTHONPATH"] = str(ROOT) + os.pathsep + full.get("PYTHONPATH", "")
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return full


def swiftkit_process(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 600,
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m swiftkit ARGS` from this checkout in a child process, output captured as
    text: for real ms-swift runs and whatever needs a fresh interpreter."""
    return subprocess.run(
        swiftkit_argv(*args),
        cwd=cwd or ROOT,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def swiftkit_popen(
    *args: str, cwd: Path, env: Mapping[str, str | None] | None = None, **kwargs: Any
) -> subprocess.Popen[str]:
    """`python -m swiftkit ARGS` started and left running (stdout and stderr piped, unless
    `kwargs` say otherwise), for tests that signal it or read it while it runs."""
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.Popen(swiftkit_argv(*args), cwd=cwd, env=child_env(env), text=True, **options)


RTX4090 = "NVIDIA GeForce RTX 4090, 24564, 8.9"
# nvidia-smi as swiftkit asks it: the cards ($FAKE_GPUS, `--query-gpu` lines), the UUID
# listing ($FAKE_LIST, `-L`) and the banner; each call is logged to $SMI_LOG when it is set.
FAKE_SMI = """#!/bin/sh
[ -n "$SMI_LOG" ] && echo "$*" >> "$SMI_LOG"
case "$*" in
  *--query-gpu*) printf '%s\\n' "$FAKE_GPUS" ;;
  -L) printf '%s\\n' "$FAKE_LIST" ;;
  *) echo "| NVIDIA-SMI 550.54.14   Driver Version: 550.54.14   CUDA Version: 12.4 |" ;;
esac
"""


def fake_gpus(tmp_path: Path, *gpus: str, log: Path | None = None) -> dict[str, str]:
    """Environment for a swiftkit call (in this process or a child) that sees `gpus`
    (nvidia-smi `--query-gpu` lines) through a fake nvidia-smi; its calls go to `log`."""
    bin_dir = tmp_path / "gpu-bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    smi.write_text(FAKE_SMI)
    smi.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["FAKE_GPUS"] = "\n".join(gpus)
    if log is not None:
        env["SMI_LOG"] = str(log)
    return env


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 1, no traceback, and every needle in stderr."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for n in needles:
        assert n in proc.stderr, (n, proc.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flags_of(argv: list[str]) -> dict[str, list[str]]:
    """`--key v1 v2 --other` -> {"key": ["v1", "v2"], "other": []}."""
    out: dict[str, list[str]] = {}
    key = None
    for a in argv:
        if a.startswith("--"):
            key = a[2:]
            out[key] = []
        elif key:
            out[key].append(a)
    return out


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


@pytest.fixture(autouse=True, scope="session")
def state_dir_of_the_session(tmp_path_factory) -> Iterator[Path]:
    """No test writes the user's runs index (~/.local/state/swiftkit) or cache: session-wide
    first, so module- and session-scoped fixtures that train are covered too."""
    folder = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWIFTKIT_STATE_DIR", str(folder))
        # the cache too (rendered data, the SmolLM2 model built once per session)
        mp.setenv("SWIFTKIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        yield folder


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory, monkeypatch) -> Path:
    """Each test its own runs index, so `latest` and `runs` see only the runs it made."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("SWIFTKIT_STATE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """Tests never reach a model or dataset hub: swiftkit treats the hub as offline."""
    monkeypatch.setenv("SWIFTKIT_OFFLINE", "1")


@pytest.fixture(autouse=True)
def own_cache(monkeypatch, tmp_path_factory):
    """`render` writes the data its line reads into swiftkit's cache: the session's, not ~."""
    monkeypatch.setenv("SWIFTKIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True)
def swift_only_in_e2e(request, monkeypatch):
    """`-m "not e2e"` never starts ms-swift: a test that would (in this process) fails."""
    if request.node.get_closest_marker("e2e"):
        return
    from swiftkit.pipeline import launch

    real = launch.executable

    def guarded(name: str) -> str:
        if name == "swift":
            pytest.fail("this test starts the real `swift`: mark it e2e", pytrace=False)
        return real(name)

    monkeypatch.setattr(launch, "executable", guarded)


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


def no_gpu_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a swiftkit call on a machine without nvidia-smi."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty)}


def gpu_recipe(tmp_path: Path, extra: str = "", preset: str = "24gb") -> Path:
    """recipes/identity.toml with absolute data paths and output in tmp_path."""
    text = (RECIPES / "identity.toml").read_text(encoding="utf-8")
    text = text.replace("../datasets/", f"{DATASETS}/").replace('"../output"', '"output"')
    text = text.replace('preset = "24gb"', f'preset = "{preset}"')
    path = tmp_path / "gpu.toml"
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


WHEEL_SOURCES = ("pyproject.toml", "README.md", "swiftkit", "recipes", "datasets")


@pytest.fixture(scope="session")
def wheel_install(tmp_path_factory) -> tuple[Path, Path]:
    """(a fresh venv's bin folder, the wheel): swiftkit built as a wheel from a clean copy of
    this checkout and installed with --no-deps; one .pth line names this venv's site-packages
    for the dependencies (torch is not installed twice). A path added by a .pth line is not
    scanned for .pth files, so this venv's editable swiftkit stays out."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in WHEEL_SOURCES:  # a clean copy: no build/ left over from another build
        path = ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(path, src / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    wheels = tmp / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), "."]
    subprocess.run(build, cwd=src, check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("swiftkit-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [*pip, "--python", str(python), "install", "--no-deps", "-q", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=600)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "outer-deps.pth").write_text("\n".join(sorted(outer)) + "\n", encoding="utf-8")
    return venv / "bin", wheel


def wheel_env(bin_dir: Path) -> dict[str, str]:
    """No PYTHONPATH (nothing of the checkout); the wheel's bin first, then this venv's for
    ms-swift's `swift`."""
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    return child_env({"PYTHONPATH": None, "PATH": path})


def shell_lines(stdout: str, start: str) -> list[str]:
    return [x.strip() for x in stdout.splitlines() if x.strip().startswith(start)]


@pytest.fixture(scope="session")
def init_run(wheel_install, tmp_path_factory) -> dict[str, Any]:
    """The beginner's flow, once per session (a real SmolLM2 training, minutes of CPU), from the
    wheel: in an empty folder `swiftkit init bot --name Nova --author "Lumen Lab"`, then
    `swiftkit validate bot/recipe.toml`, then the `run` line init printed, pasted into a shell
    in another folder (stop-when-verified on). test_init.py and test_wheel.py read it."""
    bin_dir, _ = wheel_install
    env = wheel_env(bin_dir)
    tmp = tmp_path_factory.mktemp("init-run")
    elsewhere = tmp / "a folder ü"
    elsewhere.mkdir()
    swiftkit = str(bin_dir / "swiftkit")
    # on a GPU host init would write the 7B recipe: the CPU one, as here without a GPU
    gpu = ["--preset", "cpu"] if shutil.which("nvidia-smi") else []
    steps = {}
    for argv in (
        ["init", "bot", "--name", "Nova", "--author", "Lumen Lab", *gpu],
        ["validate", "bot/recipe.toml"],
    ):
        steps[argv[0]] = subprocess.run(
            [swiftkit, *argv], cwd=elsewhere, env=env, capture_output=True, text=True
        )
    (run,) = shell_lines(steps["init"].stdout, "swiftkit run") or [""]
    steps["run"] = subprocess.run(
        ["sh", "-c", run], cwd=tmp, env=env, capture_output=True, text=True, timeout=3600
    )
    return {"steps": steps, "folder": elsewhere}
