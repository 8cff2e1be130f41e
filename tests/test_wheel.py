"""A wheel is a full install (issue 19): built from this checkout, installed into a fresh venv,
then in an empty folder `swiftkit init bot --name Nova --author X`, `swiftkit validate
bot/recipe.toml` and `swiftkit run bot/recipe.toml` succeed. Before: recipes/ and datasets/
were not package data, and init ended "the shipped identity dataset
(datasets/identity_full.json) was not found ... fix: run from a clone".

The wheel and its venv are conftest's `wheel_install`; the run is conftest's `init_run`, the
one real training of the session, which test_init.py reads too."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, wheel_env

pytestmark = pytest.mark.e2e


def test_the_wheel_carries_the_shipped_recipes_datasets_and_init_template(wheel_install):
    _, wheel = wheel_install
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "recipes").glob("*.toml"):
        assert f"swiftkit/recipes/{path.name}" in names
    for rel in ("identity_full.json", "self_cognition.json", "probes/identity.jsonl"):
        assert f"swiftkit/datasets/{rel}" in names
    assert "swiftkit/data/init_recipe.toml" in names
    assert not any(n.startswith("swiftkit/datasets/tools") for n in names)


def test_the_wheel_runs_its_own_swiftkit(wheel_install, tmp_path):
    bin_dir, _ = wheel_install
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import swiftkit; print(swiftkit.__file__)"],
        cwd=tmp_path,
        env=wheel_env(bin_dir),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(bin_dir.parent), where
    assert not Path(where).resolve().is_relative_to(ROOT), where


def test_init_validate_and_run_from_a_wheel_in_an_empty_folder(init_run):
    """conftest's init_run: init, validate and the printed run line, all from the wheel."""
    for name, proc in init_run["steps"].items():
        assert proc.returncode == 0, (name, proc.stdout[-3000:], proc.stderr[-3000:])
        assert "Traceback" not in proc.stderr
    bot = init_run["folder"] / "bot"
    assert 'preset = "cpu"' in (bot / "recipe.toml").read_text(encoding="utf-8")
    assert list((bot / "output").glob("*/checkpoint-*"))
