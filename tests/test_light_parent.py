"""The swiftkit process never imports torch, transformers or swift."""

from __future__ import annotations

from conftest import RECIPES, import_probe


def test_cli_imports_nothing_heavy():
    argvs = [
        ["render", str(RECIPES / "identity.toml")],
        ["run", "--dry-run", str(RECIPES / "tiny-cpu.toml")],
        ["validate", str(RECIPES / "tiny-cpu.toml"), str(RECIPES / "identity.toml")],
        ["--help"],
        ["presets"],
        ["doctor", str(RECIPES / "identity.toml")],
    ]
    codes, heavy = import_probe(argvs)
    # doctor exits 1: it lists the missing GPU that stops identity.toml on this machine
    assert codes == [0] * (len(argvs) - 1) + [1]
    assert heavy == [], f"heavy modules imported in the parent: {heavy}"


def test_probe_would_catch_a_heavy_import():
    """The check above can fail: importing the tiny-model builder's deps shows up."""
    _, heavy = import_probe([["--help"]], prelude="import tokenizers, torch\n")
    assert "torch" in heavy
