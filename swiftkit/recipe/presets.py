"""Hardware presets: shipped TOML files (swiftkit/presets/), and what `auto` picks on a machine."""

from __future__ import annotations

from functools import cache

from swiftkit.errors import SwiftkitError, did_you_mean
from swiftkit.recipe.model import Preset
from swiftkit.recipe.parse import tomllib
from swiftkit.resources import PRESETS

AUTO = "auto"
# A preset's torch_dtype that becomes bfloat16 or float16 by the GPUs' compute capability.
AUTO_BY_GPU = "auto-by-gpu"


def names() -> list[str]:
    return sorted(p.stem for p in PRESETS.glob("*.toml"))


@cache
def load(name: str) -> Preset:
    """A shipped preset by name; an unknown name is an error with the near miss and the list."""
    path = PRESETS / f"{name}.toml"
    if name not in names():  # a shipped name only: "../x" is no path to another TOML file
        shown = name if name.isprintable() else repr(name)[1:-1]  # a newline stays one line
        raise SwiftkitError.at(
            f"unknown preset '{shown}'",
            "recipe",
            f"preset '{shown}' does not exist",
            field="train.preset",
            fix=f"{did_you_mean(name, names())}known presets: {', '.join(names())} "
            "(see `swiftkit presets`)",
        )
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    memory = data.get("min_vram_gb")
    return Preset(
        name=name,
        description=str(data.get("description", "")),
        device="cpu" if data.get("device") == "cpu" else "cuda",
        min_vram_gb=float(memory) if memory is not None else None,
        env={str(k): str(v) for k, v in data.get("env", {}).items()},
        train=dict(data.get("train", {})),
    )


def all_presets() -> list[Preset]:
    return [load(n) for n in names()]
