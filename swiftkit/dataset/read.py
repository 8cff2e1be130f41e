"""Reading a dataset file: a JSON array or JSON Lines, each record with the line it starts on.

A record is the JSON value as written (`Record[object]`); the records that pass the checks are
objects, `Record[Fields]` (see `usable`).

JSON Lines files are read one line at a time (a 200 MB file is never held whole); a JSON array
is held as text and decoded one record at a time. Whatever the bytes, reading ends in records
and findings, never an exception. The limits (README, "Limits"):
- a record nests at most MAX_DEPTH levels (a valid one has 3);
- a number has at most 4,300 digits (Python's own limit for decimal integers);
- text holds no lone surrogate (\\ud800 is not a character and cannot be written as UTF-8)
  and no NUL character.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from swiftkit.errors import Finding

Fields = dict[str, Any]
V = TypeVar("V", covariant=True)
EXAMPLE = '{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}。"}'
MAX_DEPTH = 16  # nesting levels a record may have; a valid record has 3 (messages[i].content)
WHOLE_FILE_PROBE = 64 * 1024 * 1024  # a .json file up to this size is tried as one value
Report = Callable[[Finding], None]


class Record(NamedTuple, Generic[V]):
    """A tuple, not a dataclass: a large file makes a million of them (3x cheaper)."""

    number: int  # 1-based position in the file
    line: int  # line where the record starts
    value: V


def usable(records: Iterable[Record[object]], findings: Iterable[Finding]) -> list[Record[Fields]]:
    """The object records that no error finding names."""
    bad = {f.record for f in findings if f.is_error}
    return [r for r in records if r.number not in bad and type(r.value) is dict]  # type: ignore[misc]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_records(path: Path) -> tuple[list[Record[object]], list[Finding]]:
    """Parse a JSON array or JSONL file, keeping the line where each record starts."""
    findings: list[Finding] = []
    records = list(stream(path, findings.append))
    return records, findings


def stream(path: Path, report: Report) -> Iterator[Record[object]]:
    """The records of a dataset file in order; every problem goes to `report`."""
    source = str(path)
    try:
        if path.is_dir():
            report(
                Finding.error(
                    source,
                    "this is a folder, not a dataset file",
                    fix="name a .json or .jsonl file inside it (`ls` the folder)",
                )
            )
            return
        fh = path.open("rb")
    except FileNotFoundError:
        report(Finding.error(source, "file not found", fix="check the path"))
        return
    except OSError as exc:
        report(Finding.error(source, f"cannot read: {exc.strerror or exc}", fix="check the path"))
        return
    with fh:
        head = fh.read(4096)
        fh.seek(0)
        problem = _encoding_problem(head)
        if problem:
            report(Finding.error(source, problem, line=1, fix="save the file as UTF-8"))
            return
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not start and not fh.read(1 << 16).strip(b"\xef\xbb\xbf \t\r\n"):
            report(Finding.error(source, "the file is empty", fix=f"add records such as {EXAMPLE}"))
            return
        fh.seek(0)
        if start.startswith(b"[") and path.suffix.lower() != ".jsonl":
            yield from _read_array(fh.read(), source, report)
            return
        if start.startswith(b"{") and _whole_object(path, fh, source, report):
            return
        fh.seek(0)
        yield from _read_jsonl(fh, source, report)


def _encoding_problem(head: bytes) -> str | None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 3 and head[1:4:2] == b"\0\0"):
        return "UTF-16 encoded: datasets are read as UTF-8"
    return None


def _decode(raw: bytes, source: str, line: int, report: Report) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        report(
            Finding.error(
                source,
                f"not UTF-8 (byte {exc.start} of line {line}: {raw[exc.start : exc.start + 1]!r})",
                line=line,
                fix="save the file as UTF-8",
            )
        )
        return None


def _whole_object(path: Path, fh: Any, source: str, report: Report) -> bool:
    """A file that is one JSON object (pretty-printed, or a wrapper like {"data": [...]}):
    explained, and True; False when it is JSON Lines after all."""
    first = fh.readline()
    while first and not first.strip(b"\xef\xbb\xbf \t\r\n"):
        first = fh.readline()
    try:
        value, one_line = json.loads(first), True
    except (ValueError, RecursionError):
        if path.stat().st_size > WHOLE_FILE_PROBE:
            return False
        fh.seek(0)
        try:
            value, one_line = json.loads(fh.read().decode("utf-8-sig")), False
        except (ValueError, RecursionError):
            return False
    if not isinstance(value, dict):
        return False
    lists = [
        k
        for k, v in value.items()
        if k != "messages" and isinstance(v, list) and v and isinstance(v[0], dict)
    ]
    if lists:
        key = lists[0]
        report(
            Finding.error(
                source,
                f"records are under '{key}': the file is one object that wraps them",
                line=1,
                field=key,
                fix=f"write the array itself ([{{...}}, {{...}}]), the value of '{key}', as the "
                "whole file",
            )
        )
        return True
    if one_line:
        return False
    if path.suffix.lower() == ".jsonl":
        report(
            Finding.error(
                source,
                "one pretty-printed object over several lines: JSON Lines holds one record per "
                "line",
                line=1,
                record=1,
                fix="write each record on a single line",
            )
        )
    else:
        report(
            Finding.error(
                source,
                "a .json file must hold an array of records; this one holds a single object",
                line=1,
                record=1,
                fix="wrap it in [ ]: [{...}], or write one object per line as .jsonl",
            )
        )
    return True


def _explain(text: str, exc: Exception, column: int | None = None) -> tuple[str, str]:
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


def _check_value(value: object, text: str) -> tuple[str, str | None] | None:
    """(what is wrong, the field) with a parsed record that JSON itself allows, or None."""
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep", None
    if "\\u" in text or "\0" in text:
        bad = _bad_text(value)
        if bad:
            return bad
    if isinstance(value, dict) and _may_repeat_keys(value, text):
        duplicate = _duplicate_key(text)
        if duplicate:
            return (
                f"the key '{duplicate}' appears twice in one object (JSON readers keep only "
                "the last one)",
                duplicate,
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


def _may_repeat_keys(value: dict, text: str) -> bool:
    """False when the text surely has no repeated key: for a flat record of strings (the
    common case) each key and value holds two quotes; otherwise the keys as written are
    counted against those parsed. True sends the text to the exact check."""
    quotes = text.count('"') - text.count('\\"')
    if all(type(v) is str for v in value.values()) and quotes == 4 * len(value):
        return False
    return len(re.findall(r'"\s*:', text)) > _key_count(value)


def _key_count(value: object) -> int:
    n = 0
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            n += len(v)
            todo += v.values()
        elif isinstance(v, list):
            todo += v
    return n


def _duplicate_key(text: str) -> str | None:
    found: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) < len(keys) and not found:
            found.append(next(k for i, k in enumerate(keys) if k in keys[:i]))
        return dict(pairs)

    try:
        json.loads(text, object_pairs_hook=hook)
    except (ValueError, RecursionError):
        return None
    return found[0] if found else None


def _read_array(raw: bytes, source: str, report: Report) -> Iterator[Record[object]]:
    text = _decode(raw, source, 1, report)
    if text is None:
        return
    text = text.removeprefix("\ufeff")
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    n = 0
    line, counted = 1, 0  # line number at offset `counted`, advanced as records are read

    def at(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    comma = False  # the last thing read was a comma after a record
    while True:
        pos = _skip_space(text, pos)
        if pos < len(text) and text[pos] == "]":
            if comma:
                report(
                    Finding.error(
                        source,
                        "a trailing comma after the last record, before ']'",
                        line=at(pos),
                        record=n,
                        fix="remove the comma after the last record",
                    )
                )
                return
            after = _skip_space(text, pos + 1)
            if after < len(text):
                report(
                    Finding.error(
                        source,
                        "text after the closing ']'",
                        line=at(after),
                        fix="remove it, or write one JSON object per line as .jsonl",
                    )
                )
            return
        n += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            message, fix = _explain(text[pos : pos + 200], exc)
            report(
                Finding.error(
                    source,
                    f"invalid JSON: {message}",
                    line=exc.lineno if isinstance(exc, json.JSONDecodeError) else at(pos),
                    record=n,
                    fix=fix
                    or "the file is cut off or has a typo here; every record needs its closing }"
                    " and records are separated by commas",
                )
            )
            return
        line += text.count("\n", counted, pos)
        counted = pos
        problem = _check_value(value, text[pos:end])
        if problem:
            report(
                Finding.error(
                    source, problem[0], line=line, record=n, field=problem[1], fix=_VALUE_FIX
                )
            )
        else:
            yield Record(n, line, value)
        pos = _skip_space(text, end)
        comma = pos < len(text) and text[pos] == ","
        if comma:
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            continue
        report(
            Finding.error(
                source,
                "expected ',' or ']' after the record"
                + (" but the file ends" if pos >= len(text) else ""),
                line=at(min(pos, len(text))),
                record=n,
                fix="add a comma between records, or the closing ']' at the end",
            )
        )
        return


_VALUE_FIX = "write the record as plain JSON text: an object of strings, one level of messages"
_WS = re.compile(r"\s*")


def _skip_space(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def _read_jsonl(fh: Any, source: str, report: Report) -> Iterator[Record[object]]:
    n = 0
    boms: list[int] = []
    for number, raw in enumerate(fh, start=1):
        text = _decode(raw, source, number, report)
        if text is None:
            return  # the rest of the file is in the same wrong encoding
        if text.startswith("\ufeff"):
            text = text[1:]
            if number > 1:
                boms.append(number)
        if not text.strip():
            continue
        n += 1
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            message, fix = _explain(text, exc)
            report(
                Finding.error(
                    source,
                    f"invalid JSON: {message}",
                    line=number,
                    record=n,
                    fix=fix or "JSONL holds one complete JSON object per line",
                )
            )
            continue
        problem = _check_value(value, text)
        if problem:
            report(
                Finding.error(
                    source, problem[0], line=number, record=n, field=problem[1], fix=_VALUE_FIX
                )
            )
            continue
        yield Record(n, number, value)
    if boms:
        report(
            Finding.error(
                source,
                f"{len(boms)} line(s) start with a byte-order mark (U+FEFF), the first at line "
                f"{boms[0]}: files that each had one were joined",
                line=boms[0],
                fix="save the file as UTF-8 without a byte-order mark on any line",
            )
        )
