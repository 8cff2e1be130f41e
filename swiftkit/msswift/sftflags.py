"""The `swift sft` flags the installed ms-swift accepts, learned without importing it.

ms-swift builds its command line from dataclass fields (its own argument classes plus
transformers' TrainingArguments). We read those classes' source files as text (`ast`), follow
the base classes across modules, and collect every annotated field. Nothing is imported, so
this costs tens of milliseconds and never loads torch. When ms-swift is not installed (or its
layout is unknown) a table shipped with swiftkit stands in (`data/sft_flags.json`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import util
from pathlib import Path
from typing import Any

from swiftkit.resources import DATA, table

_FALLBACK = DATA / "sft_flags.json"
Value = str | int | float | bool | list
# What ms-swift puts in place of these None defaults when it starts: accumulation becomes
# ceil(16 / batch / world size) (swift/trainers/arguments.py), 16 for one process at batch 1;
# the dtype becomes the one config.json names, bfloat16 for the Qwen2.5 family.
AT_START: dict[str, Value] = {"gradient_accumulation_steps": 16, "torch_dtype": "bfloat16"}
# Where the `sft` argument class lives, newest layout first: (path in the package, class).
ENTRY_POINTS = [
    ("arguments/sft_args.py", "SftArguments"),  # ms-swift 4.x
    ("llm/argument/train_args.py", "TrainArguments"),  # ms-swift 3.x
]


def _package_root(name: str) -> Path | None:
    """The folder of a top-level package, found without importing it."""
    try:
        spec = util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def _parse(path: Path) -> tuple[dict[str, ast.ClassDef], dict[str, tuple[str, int, str]]] | None:
    """One module's classes, and what its imported names point at: local -> (module, level,
    name). None when it cannot be read."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    classes: dict[str, ast.ClassDef] = {}
    imports: dict[str, tuple[str, int, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            classes.setdefault(node.name, node)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                imports.setdefault(
                    alias.asname or alias.name, (node.module or "", node.level, alias.name)
                )
    return classes, imports


def _module_file(module: str, level: int, here: Path) -> Path | None:
    parts = module.split(".") if module else []
    # `from ..x import y`: relative to the importing module's package
    base = here.parents[level - 1] if level else _package_root(parts.pop(0))
    if base is None:
        return None
    target = base.joinpath(*parts)
    return next(
        (c for c in (target.with_suffix(".py"), target / "__init__.py") if c.is_file()), None
    )


def _find_class(name: str, path: Path, depth: int = 0) -> tuple[ast.ClassDef, Path] | None:
    """The class `name` as seen from module `path`, following imports and re-exports."""
    parsed = _parse(path)
    if parsed is None or depth > 8:
        return None
    classes, imports = parsed
    if name in classes:
        return classes[name], path
    if name in imports:
        module, level, original = imports[name]
        if (target := _module_file(module, level, path)) is not None:
            return _find_class(original, target, depth + 1)
    return None


def _fields(cls: ast.ClassDef, path: Path, seen: set) -> dict[str, Flag]:
    """Every annotated field of `cls` and its bases, as a dataclass collects them: a
    subclass's own definition wins, and an earlier base's over a later one's (Python's method
    resolution order)."""
    if (path, cls.name) in seen:
        return {}
    seen.add((path, cls.name))
    out: dict[str, Flag] = {}
    for base in reversed(cls.bases):
        name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)
        found = _find_class(name, path) if name else None
        for flag in _fields(*found, seen).values() if found else ():
            out[flag.name] = _keep_choices(flag, out)
    for stmt in cls.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        name, kind = stmt.target.id, ast.unparse(stmt.annotation)
        if not name.startswith("_") and "ClassVar" not in kind:
            choices = frozenset(_choices(stmt.annotation, path))
            out[name] = _keep_choices(Flag(name, kind, _default(stmt.value), choices), out)
    return out


def _choices(annotation: ast.expr, path: Path) -> set[str]:
    """The values an annotation allows, where the source states them: a Literal['a', 'b'], or
    an enum class (transformers' SchedulerType, OptimizerNames)."""
    values: set[str] = set()
    for node in ast.walk(annotation):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("Literal"):
            values |= _strings(ast.walk(node.slice))
        elif isinstance(node, ast.Name) and node.id.endswith(("Type", "Names")):
            found = _find_class(node.id, path)  # `COSINE = "cosine"` in its body
            body = found[0].body if found else []
            values |= _strings(stmt.value for stmt in body if isinstance(stmt, ast.Assign))
    return values


def _strings(nodes: Iterable[ast.AST]) -> set[str]:
    return {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}


@cache
def flag_choices() -> dict[str, frozenset[str]]:
    """flag -> the values the installed ms-swift (and transformers) accept, for the flags
    whose source states them; empty when ms-swift is not installed."""
    return {n: f.choices for n, f in (flag_details() or {}).items() if f.choices}


@dataclass(frozen=True)
class Flag:
    """One `swift sft` flag as its dataclass field declares it (source text, not evaluated)."""

    name: str
    type: str
    default: str  # "(required)" when the field has none
    choices: frozenset[str] = frozenset()  # the values its annotation allows, where it says


def _keep_choices(flag: Flag, before: dict[str, Flag]) -> Flag:
    """A free redefinition (ms-swift's `lr_scheduler_type: str`) keeps the values the field it
    overrides allows: ms-swift passes the value on to transformers, which rejects the rest."""
    if flag.choices or flag.name not in before:
        return flag
    return replace(flag, choices=before[flag.name].choices)


def _default(value: ast.expr | None) -> str:
    """`x: int = 3` -> "3"; `field(default=3)` -> "3"; `field(default_factory=list)` -> "list()"."""
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "field":
        kw = {k.arg: k.value for k in value.keywords}
        factory = kw.get("default_factory")
        if "default" in kw or factory is None:
            value = kw.get("default")
        elif isinstance(factory, ast.Lambda):
            return ast.unparse(factory.body)
        else:
            return ast.unparse(factory) + "()"
    return "(required)" if value is None else ast.unparse(value)


def flag_details(root: Path | None = None) -> dict[str, Flag] | None:
    """Name -> Flag (type and default) read from an installed ms-swift's source, or None."""
    root = root or _package_root("swift")
    if root is None:
        return None
    for rel, name in ENTRY_POINTS:
        path = root / rel
        if path.is_file():
            if found := _find_class(name, path):
                flags = _fields(*found, set())
                # A sane result has ms-swift's own flags and transformers' training flags.
                if {"learning_rate", "lora_rank", "max_length"} <= flags.keys():
                    return flags
    return None


def from_source(root: Path | None = None) -> set[str] | None:
    """The flag names read from an installed ms-swift's source, or None if it cannot tell."""
    found = flag_details(root)
    return None if found is None else set(found)


def _versions() -> dict[str, str | None]:
    from swiftkit.msswift import compat

    return {
        "ms_swift": compat.swift_version(),
        "transformers": compat.installed_version("transformers"),
    }


def _literal(text: str) -> Value | None:
    """A default's source text as a value: "8" -> 8, "['all-linear']" -> [...]; None for
    None, "(required)" and what only runs (`list()`, an enum member)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str | int | float | list) else None


@cache
def _read() -> tuple[dict[str, Value | None], str]:
    """(flag -> its default, where they came from). The shipped table is used as is when it
    was made from the installed ms-swift and transformers versions (reading the source again
    would give the same, ~0.1 s later)."""
    data = table("sft_flags.json")
    shipped = {name: data.get("defaults", {}).get(name) for name in data["flags"]}
    installed = _versions()
    if installed["ms_swift"] and all(data.get(k) == v for k, v in installed.items()):
        return shipped, f"the table for ms-swift {data['ms_swift']}"
    details = flag_details()
    if details is not None:
        found = {n: _literal(f.default) for n, f in details.items()}
        return found, "the installed ms-swift's argument classes"
    return shipped, f"swiftkit's table for ms-swift {data['ms_swift']}"


def known_flags() -> tuple[frozenset[str], str]:
    """(every accepted `swift sft` flag, where the list came from)."""
    flags, origin = _read()
    return frozenset(flags), origin


def default(name: str) -> Any:
    """ms-swift's default for an `sft` flag, from the installed ms-swift (else swiftkit's
    table): None where it has none that swiftkit can state. Every module that needs one of
    ms-swift's defaults asks here."""
    value = _read()[0].get(name)
    return AT_START.get(name) if value is None else value


def write_fallback(path: Path = _FALLBACK) -> int:
    """Regenerate the shipped table from the installed ms-swift:
    `python -m swiftkit.msswift.sftflags`."""
    details = flag_details()
    if details is None:
        raise SystemExit("ms-swift is not installed or its argument classes were not found")
    defaults = {n: _literal(f.default) for n, f in sorted(details.items())}
    payload = {
        "_comment": "`swift sft` flags of this ms-swift version (with these transformers) and "
        "their defaults, used when ms-swift is not installed or is this version. Regenerate "
        "with `python -m swiftkit.msswift.sftflags`.",
        **_versions(),
        "flags": sorted(details),
        "defaults": {n: v for n, v in defaults.items() if v is not None},
    }
    path.write_text(json.dumps(payload, indent=0) + "\n", encoding="utf-8")
    return len(details)


if __name__ == "__main__":
    print(f"{write_fallback()} flags written to {_FALLBACK}")
