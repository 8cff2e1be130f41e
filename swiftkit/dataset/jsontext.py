"""Dataset text as JSON: decoding that notes repeated keys, what JSON allows but a training
record must not hold (README, "Limits"), and plain words for what is not JSON. Every walk here
is a loop, never recursion: a record may nest thousands deep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

MAX_DEPTH = 16  # nesting levels a record may have; a valid record has 3 (messages[i].content)


class Decoder(json.JSONDecoder):
    """json's decoder, keeping the first key that one object repeats in the last value read
    (decode: a whole value, as json.loads; raw_decode: the value at a position, and its end)."""

    def __init__(self) -> None:
        super().__init__(object_pairs_hook=self._object)
        self.repeated: str | None = None

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) < len(pairs) and self.repeated is None:
            keys = [k for k, _ in pairs]
            self.repeated = next(k for i, k in enumerate(keys) if k in keys[:i])
        return value

    def raw_decode(self, s: str, idx: int = 0) -> tuple[Any, int]:
        self.repeated = None  # decode() comes here too
        return super().raw_decode(s, idx)


def explain(text: str, exc: Exception) -> tuple[str, str]:
    """(message, fix) for a record that is not JSON."""
    stripped = text.lstrip()
    if stripped.startswith(("//", "/*", "#")):
        return "a comment: JSON has no comments", "delete the comment"
    if isinstance(exc, RecursionError):
        return (
            "nested too deep for a JSON reader (thousands of levels)",
            f"a record nests at most {MAX_DEPTH} levels",
        )
    if isinstance(exc, json.JSONDecodeError):
        before = exc.doc[: exc.pos].rstrip()
        if before.endswith(",") and exc.msg.startswith(
            ("Expecting property name", "Expecting value")
        ):
            return (
                f"a trailing comma before '{exc.doc[exc.pos : exc.pos + 1]}' (column {exc.colno})",
                "remove the comma after the last item",
            )
        if "\0" in exc.doc:
            return "a NUL byte: the file holds binary data", "save the file as UTF-8 text"
        return f"{exc.msg} (column {exc.colno})", ""
    message = str(exc)
    if "digits" in message:
        key = re.search(r'"([^"]{1,40})"\s*:\s*-?\d{4000}', text)
        return (
            "a number with more than 4300 digits" + (f" under '{key.group(1)}'" if key else ""),
            "numbers in records are not read; write text in double quotes",
        )
    return message[:200], ""


def check_value(value: object, text: str, repeated: str | None) -> tuple[str, str | None] | None:
    """(what is wrong, the field) with a parsed record that JSON itself allows, or None;
    `repeated` is the key its Decoder saw twice in one object."""
    deep = text.count("{") + text.count("[") > MAX_DEPTH
    if deep and any(len(at) >= MAX_DEPTH and isinstance(v, (dict, list)) for at, v in walk(value)):
        return f"nested more than {MAX_DEPTH} levels deep", None
    if ("\\u" in text or "\0" in text) and (bad := _bad_text(value)):
        return bad
    if repeated is not None:
        return (
            f"the key '{repeated}' appears twice in one object (JSON readers keep only the last "
            "one)",
            repeated,
        )
    return None


def walk(data: object) -> Iterator[tuple[tuple, Any]]:
    """(key path, value) of every value, depth-first."""
    todo: list[tuple[tuple, Any]] = [((), data)]
    while todo:
        where, value = todo.pop()
        yield where, value
        if isinstance(value, dict):
            todo += [((*where, k), v) for k, v in value.items()]
        elif isinstance(value, list):
            todo += [((*where, i), v) for i, v in enumerate(value)]


def field_path(path: Sequence[object]) -> str:
    """messages[0].content for ("messages", 0, "content")."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _bad_text(value: object) -> tuple[str, str | None] | None:
    """The first string (keys included) that holds a NUL or a lone surrogate."""
    for where, v in walk(value):
        texts = [((*where, k), k) for k in v] if isinstance(v, dict) else []
        for at, text in texts + ([(where, v)] if isinstance(v, str) else []):
            if "\0" in text:
                return "a NUL character (\\u0000) in the text", field_path(at) or None
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                return (
                    f"a lone surrogate \\u{ord(text[exc.start]):04x} in the text: not a character, "
                    "it cannot be written as UTF-8 or tokenized",
                    field_path(at) or None,
                )
    return None
