"""Recipe values the schema cannot judge: NaN and inf (TOML allows both, and NaN compares false
so a range never catches it), values in range but absurd, list elements, choices the
installed ms-swift states, names a local model does not have, dataset entries (#N, twice),
and paths the filesystem cannot hold. Each finding names the key and its line."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from swiftkit import jsonl
from swiftkit.errors import Finding, did_you_mean
from swiftkit.recipe.parse import locate

MAX_DEPTH = 8  # nesting a recipe may have: sections, then a value, then a list of scalars
NAME_MAX = 255  # bytes in one path segment (Linux NAME_MAX); longer cannot exist
# key -> (warn above, why): in range for ms-swift, but not what an identity fine-tune wants.
ABSURD = {
    "num_train_epochs": (1000, "identity runs take 1 to 20 epochs"),
    "learning_rate": (0.01, "LoRA learning rates are about 1e-4 (full fine-tunes 1e-5)"),
    "lora_alpha": (1024, "lora_alpha is usually 2 to 4 times lora_rank"),
    "lora_rank": (1024, "LoRA ranks are 8 to 64 for an identity"),
    "max_steps": (1_000_000, "an identity run takes hundreds of steps"),
}
SWIFTKIT_DTYPES = ("auto", "auto-by-gpu")  # swiftkit's own values, resolved before launch
# target_modules values that are not module names (ms-swift's groups).
MODULE_GROUPS = ("all-linear", "all-embedding", "all-norm", "all")


def walk(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(key path, value) of every value, depth-first, without recursion."""
    todo = [(path, data)]
    while todo:
        where, value = todo.pop()
        yield where, value
        if isinstance(value, dict):
            todo += [((*where, k), v) for k, v in value.items()]
        elif isinstance(value, list):
            todo += [((*where, i), v) for i, v in enumerate(value)]


def structure_findings(data: dict, text: str, source: str) -> list[Finding]:
    """Nesting past MAX_DEPTH, NaN and inf: before the schema looks at the values."""
    out = []
    for where, value in walk(data):
        keypath = ".".join(map(str, where))
        line = locate(text, [k for k in where if isinstance(k, str)][:2])
        if len(where) > MAX_DEPTH:
            return [
                Finding.error(
                    source,
                    f"nested more than {MAX_DEPTH} levels deep",
                    line=line,
                    field=".".join(map(str, where[:3])),
                    fix="a recipe is sections of keys whose values are text, numbers, "
                    "true/false or lists of those",
                )
            ]
        if isinstance(value, float) and not math.isfinite(value):
            out.append(
                Finding.error(
                    source,
                    f"{value} is not a usable number",
                    line=line,
                    field=keypath,
                    fix="write a finite number (TOML accepts nan and inf; training cannot)",
                )
            )
    return out


def train_value_findings(own: dict, text: str, source: str, model: Path | None) -> list[Finding]:
    """[train] values that are in the schema's range but wrong or absurd."""
    from swiftkit.msswift import sftflags

    out = []

    def add(make: Any, key: str, message: str, fix: str) -> None:
        out.append(
            make(source, message, line=locate(text, ["train", key]), field=f"train.{key}", fix=fix)
        )

    for key, (limit, why) in ABSURD.items():
        value = own.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
            add(Finding.error, key, f"{key} = {value} is far above {limit}", f"{why}")
    choices = sftflags.flag_choices()
    for key, value in own.items():
        allowed = choices.get(key)
        if not allowed or not isinstance(value, str):
            continue
        if key == "torch_dtype" and value in SWIFTKIT_DTYPES:
            continue
        if value not in allowed:
            add(
                Finding.error,
                key,
                f"{key} = {value!r} is not one of the installed ms-swift's choices",
                f"{did_you_mean(value, allowed)}choices: {', '.join(sorted(allowed))}",
            )
    for key in ("target_modules", "modules_to_save"):
        value = own.get(key)
        items = value if isinstance(value, list) else [value] if value is not None else []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                add(
                    Finding.error,
                    key,
                    f"{key}[{i}] is {item!r}, not a module name",
                    'write module names in double quotes: ["q_proj", "v_proj"]',
                )
    out += _module_findings(own, text, source, model)
    out += _max_length_findings(own, text, source, model)
    return out


def _config(model: Path | None) -> dict:
    return (jsonl.json_object(model / "config.json") if model else None) or {}


def module_names(model: Path) -> set[str]:
    """The last part of every weight's module name (q_proj, ...), from the safetensors
    headers or index of a local model; empty when it cannot tell."""
    names: set[str] = set()
    try:
        index = model / "model.safetensors.index.json"
        if index.is_file():
            weights = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        else:
            weights = {}
            for file in model.glob("*.safetensors"):
                with file.open("rb") as fh:
                    size = int.from_bytes(fh.read(8), "little")
                    if size > 100_000_000:
                        return set()
                    weights.update(json.loads(fh.read(size)))
    except (OSError, ValueError, AttributeError):
        return set()
    for name in weights:
        parts = str(name).split(".")
        if len(parts) >= 2:
            names.add(parts[-2])
    return names


def _module_findings(own: dict, text: str, source: str, model: Path | None) -> list[Finding]:
    value = own.get("target_modules")
    wanted = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    wanted = [w for w in wanted if isinstance(w, str) and w not in MODULE_GROUPS]
    if not wanted or model is None or not model.is_dir():
        return []
    names = module_names(model)
    if not names:
        return []
    missing = [w for w in wanted if w not in names]
    if not missing:
        return []
    return [
        Finding.error(
            source,
            f"target_modules names {', '.join(map(repr, missing))}, which the model in "
            f"{model} does not have",
            line=locate(text, ["train", "target_modules"]),
            field="train.target_modules",
            fix=f"{did_you_mean(missing[0], names)}its modules: {', '.join(sorted(names))}; "
            'or "all-linear"',
        )
    ]


def _max_length_findings(own: dict, text: str, source: str, model: Path | None) -> list[Finding]:
    value = own.get("max_length")
    limit = _config(model).get("max_position_embeddings")
    if not isinstance(value, int) or not isinstance(limit, int) or value <= limit:
        return []
    return [
        Finding.error(
            source,
            f"max_length = {value} is more than the model's max_position_embeddings = {limit} "
            f"({model}/config.json)",
            line=locate(text, ["train", "max_length"]),
            field="train.max_length",
            fix=f"set max_length to at most {limit}",
        )
    ]


def is_file(path: Path) -> bool:
    """Path.is_file, False for a path the filesystem refuses (a name over 255 bytes, ...)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def path_problem(spec: str) -> str | None:
    """Why a path cannot exist on this filesystem, or None."""
    if "\0" in spec:
        return "it holds a NUL character"
    for part in Path(spec).parts:
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > NAME_MAX:
            return (
                f"a part of it is {size} bytes long; a file or folder name holds at most {NAME_MAX}"
            )
    return None


def dataset_entry_findings(specs: list, key: str, text: str, source: str) -> list[Finding]:
    """#N counts that are not positive integers, and one dataset listed twice."""
    out = []
    seen: dict[str, int] = {}
    line = locate(text, ["data", key])
    for i, spec in enumerate(specs):
        if not isinstance(spec, str):
            continue
        head, sep, count = spec.partition("#")
        if sep and not (count.isdigit() and int(count) > 0):
            out.append(
                Finding.error(
                    source,
                    f"'#{count}' in '{spec}' is not a sample count: it must be a positive whole "
                    "number",
                    line=line,
                    field=f"data.{key}[{i}]",
                    fix=f'write "{head}#100" for 100 records, or "{head}" for all of them',
                )
            )
        problem = path_problem(head)
        if problem:
            out.append(
                Finding.error(
                    source,
                    f"'{spec[:60]}...' cannot be a file: {problem}",
                    line=line,
                    field=f"data.{key}[{i}]",
                    fix="give the dataset's real path, relative to the recipe",
                )
            )
        if head in seen:
            out.append(
                Finding.error(
                    source,
                    f"'{head}' is listed twice (entries {seen[head] + 1} and {i + 1}): each "
                    "record would train twice as often",
                    line=line,
                    field=f"data.{key}[{i}]",
                    fix="list it once; to weigh it more, repeat the records in the file",
                )
            )
        seen.setdefault(head, i)
    return out
