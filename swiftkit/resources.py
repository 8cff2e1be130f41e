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


@cache
def schema(name: str) -> dict:
    """A shipped JSON schema: `recipe` or `identity`."""
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


@cache
def table(name: str) -> dict:
    """A shipped JSON table under data/ (compat, failures, model_shapes, sft_flags)."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))
