"""Where swiftkit's shipped data lives (schemas, presets, tables), in one place."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SCHEMAS = PACKAGE / "schemas"
PRESETS = PACKAGE / "presets"
DATA = PACKAGE / "data"
PLUGIN = PACKAGE / "plugin" / "stop_when_verified.py"
SERVE_PLUGIN = PACKAGE / "plugin" / "serve_pair.py"  # swift deploy: batches, response names
DEPLOY_AUTH_PLUGIN = PACKAGE / "plugin" / "deploy_auth.py"  # 401 for a wrong API key
# Qwen2.5-7B-Instruct's tokenizer_config.json chat_template, as shipped (the tiny model uses it)
QWEN25_CHAT_TEMPLATE = DATA / "qwen2_5_chat_template.jinja"
RECIPES = PACKAGE.parent / "recipes"  # the shipped recipes, in a checkout of the repository


def shipped_recipe(name: str) -> str:
    """A shipped recipe as a command names it: its absolute path in a checkout (so a printed
    line runs from any folder), else recipes/NAME."""
    path = RECIPES / name
    return str(path) if path.is_file() else f"recipes/{name}"


@cache
def schema(name: str) -> dict:
    """A shipped JSON schema: `recipe` or `identity`."""
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


@cache
def table(name: str) -> dict:
    """A shipped JSON table under data/ (compat, failures, model_shapes, sft_flags)."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))
