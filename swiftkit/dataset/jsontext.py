"""Dataset text as JSON: decoding that notes repeated keys, what JSON allows but a training
record must not hold, and plain words for what is not JSON.

The limits (README, "Limits"):
- a record nests at most MAX_DEPTH levels (a valid one has 3);
- a number has at most 4,300 digits (Python's own limit for decimal integers);
- text holds no lone surrogate (\\ud800 is not a character and cannot be written as UTF-8)
  and no NUL character;
- one object holds each key once (JSON readers keep the last one silently; `Decoder` notes it
  with json's object_pairs_hook).
Every walk here is a loop, never recursion: a record may nest thousands deep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 16  # nesting levels a record may have; a valid record has 3 (messages[i].content)


class Decoder:
    """json's decoder, keeping the first key that one object repeats in the last value read."""

    def __init__(self) -> None:
        self.repeated: str | None = None
        self._json = json.JSONDecoder(object_pairs_hook=self._object)

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) < len(pairs) and self.repeated is None:
            keys = [k for k, _ in pairs]
            self.repeated = next(k for i, k in enumerate(keys) if k in keys[:i])
        return value

    def line(self, text: str) -> object:
        """One whole value (space around it allowed), as json.loads reads it."""
        self.repeated = None
        return self._json.decode(text)

    def at(self, text: str, pos: int) -> tuple[object, int]:
        """The value that starts at `pos`, and where it ends."""
        self.repeated = None
        return self._json.raw_decode(text, pos)


def explain(text: str, exc: Exception, column: int | None = None) -> tuple[str, str]:
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
        return f"{exc.msg} (column {column or exc.colno})", ""
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
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep", None
    if "\\u" in text or "\0" in text:
        bad = _bad_text(value)
        if bad:
            return bad
    if repeated is not None:
        return (
            f"the key '{repeated}' appears twice in one object (JSON readers keep only the last "
            "one)",
            repeated,
        )
    return None


def _depth(value: object) -> int:
    deepest = 0
    todo = [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if d > MAX_DEPTH:
                return d
            todo += [(x, d + 1) for x in (v.values() if isinstance(v, dict) else v)]
    return deepest


def _strings(value: object) -> Iterator[tuple[str, str]]:
    """(field path, text) of every string in a record, keys included."""
    todo: list[tuple[str, object]] = [("", value)]
    while todo:
        where, v = todo.pop()
        if isinstance(v, str):
            yield where, v
        elif isinstance(v, dict):
            for k, x in v.items():
                path = f"{where}.{k}" if where else str(k)
                todo += [(path, k), (path, x)]
        elif isinstance(v, list):
            todo += [(f"{where}[{i}]", x) for i, x in enumerate(v)]


def _bad_text(value: object) -> tuple[str, str | None] | None:
    for where, s in _strings(value):
        if "\0" in s:
            return "a NUL character (\\u0000) in the text", where or None
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = s[exc.start]
            return (
                f"a lone surrogate \\u{ord(bad):04x} in the text: not a character, it cannot "
                "be written as UTF-8 or tokenized",
                where or None,
            )
    return None
