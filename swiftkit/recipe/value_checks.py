"""Recipe values the schema cannot judge: NaN and inf (TOML allows both, and NaN compares false
so a range never catches it), values in range but absurd, list elements, choices the
installed ms-swift states, names a local model does not have, dataset entries (#N, twice),
and paths the filesystem cannot hold. Each finding names the key and its line."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

from swiftkit import jsonl
from swiftkit.dataset.jsontext import walk
from swiftkit.errors import Finding, did_you_mean, not_a_file
from swiftkit.recipe.parse import SHAPE_FIX, locate

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


def keyed(
    source: str,
    text: str,
    key: list,
    message: str,
    fix: str,
    *,
    field: str | None = None,
    make: Callable[..., Finding] = Finding.error,
) -> Finding:
    """A finding at a recipe key: its line in the text, and the key path as its field."""
    return make(source, message, line=locate(text, key), field=field or ".".join(key), fix=fix)


def structure_findings(data: dict, text: str, source: str) -> list[Finding]:
    """Nesting past MAX_DEPTH, NaN and inf: before the schema looks at the values."""
    out = []
    for where, value in walk(data):
        line = locate(text, [k for k in where if isinstance(k, str)][:2])
        if len(where) > MAX_DEPTH:
            message, fld = (
                f"nested more than {MAX_DEPTH} levels deep",
                ".".join(map(str, where[:3])),
            )
            return [Finding.error(source, message, line=line, field=fld, fix=SHAPE_FIX)]
        if isinstance(value, float) and not math.isfinite(value):
            message, fld = f"{value} is not a usable number", ".".join(map(str, where))
            fix = "write a finite number (TOML accepts nan and inf; training cannot)"
            out.append(Finding.error(source, message, line=line, field=fld, fix=fix))
    return out


def train_value_findings(
    own: dict, text: str, source: str, model: Path | None, base: Path
) -> list[Finding]:
    """[train] values that are in the schema's range but wrong or absurd."""
    from swiftkit.msswift import sftflags

    out = []

    def add(key: str, message: str, fix: str) -> None:
        out.append(keyed(source, text, ["train", key], message, fix))

    for key, (limit, why) in ABSURD.items():
        value = own.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
            add(key, f"{key} = {value} is far above {limit}", why)
    choices = sftflags.flag_choices()
    for key, value in own.items():
        allowed = choices.get(key)
        if key == "torch_dtype" and value in SWIFTKIT_DTYPES:
            continue
        if allowed and isinstance(value, str) and value not in allowed:
            add(
                key,
                f"{key} = {value!r} is not one of the installed ms-swift's choices",
                f"{did_you_mean(value, allowed)}choices: {', '.join(sorted(allowed))}",
            )
    for key in ("target_modules", "modules_to_save"):
        for i, item in enumerate(as_list(own.get(key))):
            if not isinstance(item, str):
                add(
                    key,
                    f"{key}[{i}] is {item!r}, not a module name",
                    'write module names in double quotes: ["q_proj", "v_proj"]',
                )
    wanted = [
        w
        for w in as_list(own.get("target_modules"))
        if isinstance(w, str) and w not in MODULE_GROUPS
    ]
    names = module_names(model) if wanted and model is not None and model.is_dir() else set()
    if missing := [w for w in wanted if names and w not in names]:
        add(
            "target_modules",
            f"target_modules names {', '.join(map(repr, missing))}, which the model in "
            f"{model} does not have",
            f"{did_you_mean(missing[0], names)}its modules: {', '.join(sorted(names))}; "
            'or "all-linear"',
        )
    resume = own.get("resume_from_checkpoint")
    if isinstance(resume, str) and not (folder := base / Path(resume).expanduser()).is_dir():
        add(
            "resume_from_checkpoint",
            f"resume_from_checkpoint: no such folder {folder}",
            "name a checkpoint-N folder of an earlier run, or `swiftkit run --resume RUN_DIR`",
        )
    length = own.get("max_length")
    config = (jsonl.json_object(model / "config.json") if model else None) or {}
    positions = config.get("max_position_embeddings")
    if isinstance(length, int) and isinstance(positions, int) and length > positions:
        add(
            "max_length",
            f"max_length = {length} is more than the model's max_position_embeddings = {positions} "
            f"({model}/config.json)",
            f"set max_length to at most {positions}",
        )
    return out


def as_list(value: object) -> list:
    """A value that may be one item or a list of them (target_modules), as a list."""
    return value if isinstance(value, list) else [] if value is None else [value]


def module_names(model: Path) -> set[str]:
    """The last part of every weight's module name (q_proj, ...), from the safetensors
    headers or index of a local model; empty when it cannot tell."""
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
    return {parts[-2] for name in weights if len(parts := str(name).split(".")) >= 2}


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


def dataset_entry_findings(refs: tuple, key: str, text: str, source: str) -> list[Finding]:
    """Each [data] entry: a #N count that is not a positive integer, a path that cannot exist,
    one dataset listed twice (also as ./../x.json or through a symlink: the same real file), a
    local entry that is no regular file; a hub dataset is named as not checked here."""
    out: list[Finding] = []
    seen: dict[str, int] = {}
    what = "dataset" if key == "datasets" else "validation dataset"

    def add(i: int, message: str, fix: str, make: Callable[..., Finding] = Finding.error) -> None:
        out.append(
            keyed(source, text, ["data", key], message, fix, field=f"data.{key}[{i}]", make=make)
        )

    for i, ref in enumerate(refs):
        spec, errors = ref.spec, len(out)
        head, sep, count = spec.rpartition("#")
        whole = ref.path is not None and ref.path.name == Path(spec).name  # my#3.json itself
        if sep and not whole and not (count.isdigit() and int(count) > 0):
            add(
                i,
                f"'#{count}' in '{spec}' is not a sample count: it must be a positive whole number",
                f'write "{head}#100" for 100 records, or "{head}" for all of them',
            )
        if problem := path_problem(spec):
            add(
                i,
                f"'{spec[:60]}...' cannot be a file: {problem}",
                "give the dataset's real path, relative to the recipe",
            )
        same = os.path.realpath(ref.path) if ref.path else ref.hub_id or spec
        if same in seen:
            add(
                i,
                f"'{spec}' is listed twice (entries {seen[same] + 1} and {i + 1}"
                + (f", both {same}" if ref.path else "")
                + "): each record would train twice as often",
                "list it once; to weigh it more, repeat the records in the file",
            )
        seen.setdefault(same, i)
        if ref.path is not None and len(out) == errors and (refused := not_a_file(ref.path)):
            add(i, f"{what} file {refused[0]}: {ref.path}", refused[1])
        if ref.hub_id and ref.hub_id[:4].lower() in ("hf::", "ms::"):
            hub = "Hugging Face" if ref.hub_id[:2].lower() == "hf" else "ModelScope"
            message = f"'{spec}': a {hub} dataset, downloaded when the run starts"
            add(
                i,
                message,
                "not checked here; copy it into a local .jsonl to check it first",
                Finding.warning,
            )
    return out
