"""Reading a dataset file: a JSON array or JSON Lines, each record with the line it starts on.

A record is the JSON value as written (`Record[object]`); the records that pass the checks are
objects, `Record[Fields]` (see `usable`).

JSON Lines files are read one line at a time (a 200 MB file is never held whole); a JSON array
is held as text and decoded one record at a time. Whatever the bytes, reading ends in records
and findings, never an exception; what JSON allows but a record must not hold (the limits
in README, "Limits") is jsontext.py's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from swiftkit.dataset import jsontext
from swiftkit.errors import Finding, Where

if TYPE_CHECKING:
    from typing_extensions import Unpack

Fields = dict[str, Any]
V = TypeVar("V", covariant=True)
EXAMPLE = '{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}。"}'
WHOLE_FILE_PROBE = 64 * 1024 * 1024  # a .json file up to this size is tried as one value
Report = Callable[[Finding], None]


def _error(report: Report, source: str, message: str, **where: Unpack[Where]) -> None:
    report(Finding.error(source, message, **where))


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
            _error(
                report,
                source,
                "this is a folder, not a dataset file",
                fix="name a .json or .jsonl file inside it (`ls` the folder)",
            )
            return
        fh = path.open("rb")
    except FileNotFoundError:
        _error(report, source, "file not found", fix="check the path")
        return
    except OSError as exc:
        _error(report, source, f"cannot read: {exc.strerror or exc}", fix="check the path")
        return
    with fh:
        head = fh.read(4096)
        fh.seek(0)
        problem = _encoding_problem(head)
        if problem:
            _error(report, source, problem, line=1, fix="save the file as UTF-8")
            return
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not start and not fh.read(1 << 16).strip(b"\xef\xbb\xbf \t\r\n"):
            _error(report, source, "the file is empty", fix=f"add records such as {EXAMPLE}")
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
        _error(
            report,
            source,
            f"not UTF-8 (byte {exc.start} of line {line}: {raw[exc.start : exc.start + 1]!r})",
            line=line,
            fix="save the file as UTF-8",
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
        _error(
            report,
            source,
            f"records are under '{key}': the file is one object that wraps them",
            line=1,
            field=key,
            fix=f"write the array itself ([{{...}}, {{...}}]), the value of '{key}', as the "
            "whole file",
        )
        return True
    if one_line:
        return False
    if path.suffix.lower() == ".jsonl":
        _error(
            report,
            source,
            "one pretty-printed object over several lines: JSON Lines holds one record per line",
            line=1,
            record=1,
            fix="write each record on a single line",
        )
    else:
        _error(
            report,
            source,
            "a .json file must hold an array of records; this one holds a single object",
            line=1,
            record=1,
            fix="wrap it in [ ]: [{...}], or write one object per line as .jsonl",
        )
    return True


def _read_array(raw: bytes, source: str, report: Report) -> Iterator[Record[object]]:
    text = _decode(raw, source, 1, report)
    if text is None:
        return
    text = text.removeprefix("\ufeff")
    decoder = jsontext.Decoder()
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
                _error(
                    report,
                    source,
                    "a trailing comma after the last record, before ']'",
                    line=at(pos),
                    record=n,
                    fix="remove the comma after the last record",
                )
                return
            after = _skip_space(text, pos + 1)
            if after < len(text):
                _error(
                    report,
                    source,
                    "text after the closing ']'",
                    line=at(after),
                    fix="remove it, or write one JSON object per line as .jsonl",
                )
            return
        n += 1
        try:
            value, end = decoder.at(text, pos)
        except (ValueError, RecursionError) as exc:
            message, fix = jsontext.explain(text[pos : pos + 200], exc)
            _error(
                report,
                source,
                f"invalid JSON: {message}",
                line=exc.lineno if isinstance(exc, json.JSONDecodeError) else at(pos),
                record=n,
                fix=fix
                or "the file is cut off or has a typo here; every record needs its closing }"
                " and records are separated by commas",
            )
            return
        line += text.count("\n", counted, pos)
        counted = pos
        problem = jsontext.check_value(value, text[pos:end], decoder.repeated)
        if problem:
            _error(
                report, source, problem[0], line=line, record=n, field=problem[1], fix=_VALUE_FIX
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
        _error(
            report,
            source,
            "expected ',' or ']' after the record"
            + (" but the file ends" if pos >= len(text) else ""),
            line=at(min(pos, len(text))),
            record=n,
            fix="add a comma between records, or the closing ']' at the end",
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
    decoder = jsontext.Decoder()
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
            value = decoder.line(text)
        except (ValueError, RecursionError) as exc:
            message, fix = jsontext.explain(text, exc)
            _error(
                report,
                source,
                f"invalid JSON: {message}",
                line=number,
                record=n,
                fix=fix or "JSONL holds one complete JSON object per line",
            )
            continue
        problem = jsontext.check_value(value, text, decoder.repeated)
        if problem:
            _error(
                report, source, problem[0], line=number, record=n, field=problem[1], fix=_VALUE_FIX
            )
            continue
        yield Record(n, number, value)
    if boms:
        _error(
            report,
            source,
            f"{len(boms)} line(s) start with a byte-order mark (U+FEFF), the first at line "
            f"{boms[0]}: files that each had one were joined",
            line=boms[0],
            fix="save the file as UTF-8 without a byte-order mark on any line",
        )
