"""Where swiftkit's shipped data lives (schemas, presets, tables), in one place."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SCHEMAS = PACKAGE / "schemas"
PRESETS = PACKAGE / "presets"
DATA = PACKAGE / "data"
PLUGIN = PACKAGE / "msswift" / "plugins" / "stop_when_verified.py"
# swift deploy: batches, response names
SERVE_PLUGIN = PACKAGE / "msswift" / "plugins" / "serve_pair.py"
DEPLOY_AUTH_PLUGIN = PACKAGE / "msswift" / "plugins" / "deploy_auth.py"  # 401 for a wrong API key
# Qwen2.5-7B-Instruct's tokenizer_config.json chat_template, as shipped (the tiny model uses it)
QWEN25_CHAT_TEMPLATE = DATA / "qwen2_5_chat_template.jinja"
# The shipped recipes and datasets, package data: in a checkout the links swiftkit/recipes and
# swiftkit/datasets, resolved to the repository's recipes/ and datasets/ (the paths printed).
RECIPES = (PACKAGE / "recipes").resolve()
DATASETS = (PACKAGE / "datasets").resolve()


def shipped_recipe(name: str) -> str:
    """A shipped recipe as a command names it: its absolute path (a printed line runs from any
    folder)."""
    return str(RECIPES / name)


# The user's folders: (swiftkit's own override, the XDG variable, the default under home).
USER_FOLDERS = {
    "cache": ("SWIFTKIT_CACHE_DIR", "XDG_CACHE_HOME", (".cache",)),
    "state": ("SWIFTKIT_STATE_DIR", "XDG_STATE_HOME", (".local", "state")),
}


def user_folder(kind: str) -> Path:
    """Where swiftkit keeps this user's `cache` (rendered data, the CPU memory baseline) or
    `state` (the runs index), absolute: $SWIFTKIT_CACHE_DIR / $SWIFTKIT_STATE_DIR, else
    $XDG_CACHE_HOME/swiftkit / $XDG_STATE_HOME/swiftkit (an absolute one; the XDG spec says
    to ignore a relative one), else ~/.cache/swiftkit / ~/.local/state/swiftkit."""
    own, xdg_var, default = USER_FOLDERS[kind]
    if os.environ.get(own):
        return Path(os.environ[own]).expanduser().resolve()
    xdg = os.environ.get(xdg_var, "")
    base = Path(xdg) if Path(xdg).is_absolute() else Path.home().joinpath(*default)
    return (base / "swiftkit").resolve()


@cache
def schema(name: str) -> dict:
    """A shipped JSON schema: `recipe` or `identity`."""
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


@cache
def table(name: str) -> dict:
    """A shipped JSON table under data/ (compat, failures, model_shapes, sft_flags)."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))
