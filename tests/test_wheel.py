"""A wheel is a full install (issue 19): built from this checkout, installed into a fresh venv,
then in an empty folder `swiftkit init bot --name Nova --author X`, `swiftkit validate
bot/recipe.toml` and `swiftkit run bot/recipe.toml` succeed. Before: recipes/ and datasets/
were not package data, and init ended "the shipped identity dataset
(datasets/identity_full.json) was not found ... fix: run from a clone".

The fresh venv gets the wheel with --no-deps and one .pth line naming this venv's
site-packages for the dependencies (torch is not installed twice). A path added by a .pth line
is not scanned for .pth files, so this venv's editable swiftkit (an __editable__ finder .pth)
stays out: the test checks that the swiftkit it runs is the wheel's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, child_env

pytestmark = pytest.mark.e2e

SOURCES = ("pyproject.toml", "README.md", "swiftkit", "recipes", "datasets")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the fresh venv's bin folder, the wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:  # a clean copy: no build/ left over from another build
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


def fresh_env(bin_dir: Path) -> dict[str, str]:
    """No PYTHONPATH (nothing of the checkout); this venv's bin after the fresh one's, for
    ms-swift's `swift`."""
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    return child_env({"PYTHONPATH": None, "PATH": path})


def test_the_wheel_carries_the_shipped_recipes_datasets_and_init_template(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "recipes").glob("*.toml"):
        assert f"swiftkit/recipes/{path.name}" in names
    for rel in ("identity_full.json", "self_cognition.json", "probes/identity.jsonl"):
        assert f"swiftkit/datasets/{rel}" in names
    assert "swiftkit/data/init_recipe.toml" in names
    assert not any(n.startswith("swiftkit/datasets/tools") for n in names)


def test_init_validate_and_run_from_a_wheel_in_an_empty_folder(installed, tmp_path):
    bin_dir, _ = installed
    env = fresh_env(bin_dir)
    empty = tmp_path / "an empty folder"
    empty.mkdir()
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import swiftkit; print(swiftkit.__file__)"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print("swiftkit from", where)
    assert Path(where).is_relative_to(bin_dir.parent), where
    assert not Path(where).resolve().is_relative_to(ROOT), where
    swiftkit = str(bin_dir / "swiftkit")
    # on a GPU host init would write the 7B recipe: the tiny one, as here without a GPU
    gpu = ["--preset", "cpu"] if shutil.which("nvidia-smi") else []
    steps = [
        ["init", "bot", "--name", "Nova", "--author", "X", *gpu],
        ["validate", "bot/recipe.toml"],
        ["run", "bot/recipe.toml"],
    ]
    for argv in steps:
        proc = subprocess.run(
            [swiftkit, *argv], cwd=empty, env=env, capture_output=True, text=True, timeout=3600
        )
        assert proc.returncode == 0, (argv, proc.stdout[-3000:], proc.stderr[-3000:])
        assert "Traceback" not in proc.stderr
    text = (empty / "bot" / "recipe.toml").read_text(encoding="utf-8")
    assert 'preset = "cpu"' in text  # no GPU here: init wrote the tiny CPU recipe
    assert list((empty / "bot" / "output").glob("*/checkpoint-*"))
