"""The README's layout table names every room of the package, and only rooms that exist."""

from __future__ import annotations

import re

from conftest import ROOT

PACKAGE = ROOT / "swiftkit"


def layout_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Layout")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_every_folder_and_module_of_the_package_is_in_the_layout_table():
    section = layout_section()
    rooms = [p.name + "/" for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"]
    rooms += [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    missing = [r for r in rooms if f"`{r}`" not in section and f"`swiftkit/{r}`" not in section]
    assert not missing, f"README layout does not name: {missing}"


def test_the_layout_table_names_no_module_that_is_gone():
    section = layout_section()
    for folder in re.findall(r"`(\w+)/`", section):
        if folder in ("recipes", "datasets", "tests", "bench", "docs"):
            assert (ROOT / folder).is_dir(), folder
        else:
            assert (PACKAGE / folder).is_dir(), f"README names swiftkit/{folder}/, which is gone"
    for module in re.findall(r"`(\w+\.py)`", section):
        assert list(ROOT.rglob(module)), f"README names {module}, which is gone"
