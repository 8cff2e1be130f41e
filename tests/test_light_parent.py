"""The swiftkit process never imports torch, transformers or swift."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import RECIPES, ROOT

HEAVY = ("torch", "transformers", "swift", "peft", "modelscope")

PROBE = """
import sys
from swiftkit.cli import main
codes = [main(a) for a in {argvs!r}]
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
import json
print('RESULT', json.dumps([codes, heavy]))
"""


def test_cli_imports_nothing_heavy():
    argvs = [
        ["render", str(RECIPES / "identity.toml")],
        ["run", "--dry-run", str(RECIPES / "tiny-cpu.toml")],
        ["validate", str(RECIPES / "tiny-cpu.toml"), str(RECIPES / "identity.toml")],
        ["--help"],
        ["presets"],
        ["doctor", str(RECIPES / "identity.toml")],
    ]
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(argvs=argvs, heavy=HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    codes, heavy = json.loads(out.split("RESULT ")[-1])
    assert codes == [0] * len(argvs), out
    assert heavy == [], f"heavy modules imported in the parent: {heavy}"


def test_probe_would_catch_a_heavy_import():
    """The check above can fail: importing the tiny-model builder's deps shows up."""
    code = PROBE.replace(
        "from swiftkit.cli import main", "import tokenizers, torch\nfrom swiftkit.cli import main"
    )
    out = subprocess.run(
        [sys.executable, "-c", code.format(argvs=[["--help"]], heavy=HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "torch" in json.loads(out.split("RESULT ")[-1])[1]
