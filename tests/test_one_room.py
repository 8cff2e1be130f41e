"""msswift/ is the only room that knows ms-swift (issue 19): outside swiftkit/msswift/ no code
(comments and docstrings aside) names ms-swift's record files, its flags or its executable, so
a new ms-swift release means editing that folder (and its tests) only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from swiftkit.msswift import sftflags

PACKAGE = Path(__file__).resolve().parents[1] / "swiftkit"
RECORDS = ("args.json", "logging.jsonl", "last_model_checkpoint")
UNDERSCORED = re.compile(r"--[a-z0-9]+_[a-z0-9_]+")
WORD_FLAG = re.compile(r"--([a-z0-9_]+)\b")


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "msswift" not in p.relative_to(PACKAGE).parts)


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes (module, class, function)."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def own_options() -> set[str]:
    """swiftkit's own click options (`--model` is one too: verify --url's model id)."""
    out = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "option":
                out |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    return {o for o in out if isinstance(o, str)}


def strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out.append((node.lineno, node.value))
    return out


def offences(path: Path, flags: frozenset[str], own: set[str]) -> list[str]:
    out = []
    for line, text in strings(path):
        why = [r for r in RECORDS if r in text]
        if text == "swift":
            why.append("the executable")
        if text == "--":  # "--" + name, f"--{name}": a flag built by hand
            why.append("a flag built by hand")
        why += UNDERSCORED.findall(text)
        why += [
            f"--{w}"
            for w in WORD_FLAG.findall(text)
            if w in flags and f"--{w}" not in own and "_" not in w
        ]
        if why:
            out.append(f"{path.name}:{line}: {', '.join(why)}: {text!r}")
    return out


def test_only_msswift_names_ms_swift():
    flags, _ = sftflags.known_flags()
    own = own_options()
    found = [f"{p.parent.name}/{o}" for p in modules() for o in offences(p, flags, own)]
    assert not found, "\n".join(found)


def test_the_check_sees_each_kind(tmp_path):
    """The check itself can fail: each kind of name is found, docstrings are not."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""args.json in a docstring is fine."""\n'
        'A = "args.json"\n'
        'B = ["swift", "sft"]\n'
        'C = "--resume_from_checkpoint"\n'
        'D = "--adapters"\n'
        'E = f"--{A}"\n'
        'F = "--dry-run"\n',
        encoding="utf-8",
    )
    flags, _ = sftflags.known_flags()
    found = offences(bad, flags, {"--dry-run"})
    lines = sorted(int(o.split(":")[1]) for o in found)
    assert lines == [2, 3, 4, 5, 6], found


def test_the_supported_range_is_checked_in_msswift(monkeypatch):
    """Before launch: ms-swift missing, or outside the range data/compat.json states, is refused
    with the pip line that fixes it (msswift.compat, no longer written out in `run`)."""
    import pytest

    from swiftkit.errors import SwiftkitError
    from swiftkit.msswift import compat

    monkeypatch.setattr(compat, "swift_version", lambda: None)
    with pytest.raises(SwiftkitError, match="not installed") as missing:
        compat.require_supported()
    assert compat.requirement() in missing.value.findings[0].fix
    monkeypatch.setattr(compat, "swift_version", lambda: "2.0.0")
    with pytest.raises(SwiftkitError, match="outside the supported range"):
        compat.require_supported()
    monkeypatch.setattr(compat, "swift_version", lambda: compat.table()["tested"])
    assert compat.require_supported() == compat.table()["tested"]
