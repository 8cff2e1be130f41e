"""The one JSON Lines reader: datasets, probe files, prompt files, ms-swift's logging.jsonl and
the stop-when-verified log all go through `rows`, so blank lines, a byte-order mark, a torn
last line and line numbers are handled the same way everywhere. `json_object` reads the small
JSON files of a model folder (config.json, tokenizer_config.json, ...) the same way too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """One non-blank line: its 1-based number, and its value or why it is not JSON."""

    line: int
    text: str
    value: Any = None
    error: str | None = None  # "Expecting ',' delimiter (column 12)" when not JSON

    @property
    def ok(self) -> bool:
        return self.error is None


def rows(text: str) -> Iterator[Row]:
    """Every non-blank line of `text`, parsed (a leading byte-order mark is ignored)."""
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield Row(number, line, json.loads(line))
        except (ValueError, RecursionError) as exc:
            msg = (
                f"{exc.msg} (column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)[:200] or type(exc).__name__
            )
            yield Row(number, line, error=msg)


def values(path: Path) -> list[Any]:
    """The JSON values of a file written by a program (logs): unreadable or torn lines are
    skipped, a missing file is empty."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [r.value for r in rows(text) if r.ok]


def json_object(path: Path) -> dict[str, Any] | None:
    """A JSON file holding an object; None when it is missing, unreadable, not JSON or not an
    object (a model folder's config files: callers treat all of these as "not there")."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
