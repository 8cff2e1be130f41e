"""The one JSON Lines reader: datasets, probe files, prompt files, ms-swift's logging.jsonl and
the stop-when-verified log all go through `rows`, so blank lines, a byte-order mark, a torn
last line and line numbers are handled the same way everywhere."""

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
