"""Every default more than one module uses is stated once, in swiftkit/defaults.py: before,
the 600 s timeout was written in six places, infer's 512 tokens and chat's 2048 in two each,
the probes asked at once in two, and the stop plugin repeated the recipe schema's defaults."""

from __future__ import annotations

import ast

from conftest import ROOT, swiftkit

from swiftkit import defaults

USERS = ["swiftkit/cli.py", "swiftkit/msswift/argv.py"]
USERS += ["swiftkit/commands", "swiftkit/serving", "swiftkit/msswift/plugins"]


def test_no_module_that_uses_a_default_writes_its_number():
    numbers = {v for k, v in vars(defaults).items() if k.isupper() and isinstance(v, (int, float))}
    found = []
    for where in USERS:
        path = ROOT / where
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if not f.is_file():
                continue
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Constant)
                    and type(node.value) in (int, float)
                    and node.value in numbers
                ):
                    found.append(f"{f.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert not found, "a default written out again instead of read from defaults.py:\n" + (
        "\n".join(found)
    )


def test_the_help_shows_the_defaults_from_the_one_module():
    help_text = swiftkit("serve", "--help").stdout + swiftkit("verify", "--help").stdout
    assert f"default: {defaults.TIMEOUT_S}" in " ".join(help_text.split())
    infer = " ".join(swiftkit("infer", "--help").stdout.split())
    assert f"default: {defaults.INFER_MAX_NEW_TOKENS}" in infer
