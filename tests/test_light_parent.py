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


def test_the_model_client_is_imported_only_where_a_model_is_asked():
    """openai takes about a second to import: `--help`, `validate` and `render` never pay it
    (serving/client.py imports it inside the functions that ask)."""
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys\nimport swiftkit.serving.client\nfrom swiftkit.cli import main\n"
        f"for argv in (['--help'], ['validate', {str(RECIPES / 'tiny-cpu.toml')!r}], "
        f"['render', {str(RECIPES / 'identity.toml')!r}]):\n"
        "    main(argv)\n"
        "print('openai' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "False", out  # the client's module loaded, not openai
