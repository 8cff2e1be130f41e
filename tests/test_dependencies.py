"""Every runtime dependency in pyproject.toml is imported somewhere in swiftkit/ (the parent
imports the light ones lazily; torch and swift only in code that runs in child processes)."""

from __future__ import annotations

import re
import sys

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Distribution name -> the module it is imported as, where they differ.
MODULE = {"ms-swift": "swift"}


def test_every_runtime_dependency_is_imported():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "swiftkit").rglob("*.py"))
    unused = []
    for requirement in project["dependencies"]:
        dist = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        module = MODULE.get(dist, dist.replace("-", "_"))
        if not re.search(rf"^\s*(import|from) {re.escape(module)}\b", sources, re.M):
            unused.append(dist)
    assert not unused, f"declared but never imported in swiftkit/: {unused}"
