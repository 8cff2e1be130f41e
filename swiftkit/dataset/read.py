"""Reading a dataset file: a JSON array or JSON Lines, each record with the line it starts on.

A record is the JSON value as written (`Record[object]`); the records that pass the checks are
objects, `Record[Fields]` (see `usable`)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from swiftkit import jsonl
from swiftkit.errors import Finding

Fields = dict[str, Any]
V = TypeVar("V", covariant=True)
EXAMPLE = '{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}。"}'


@dataclass(frozen=True)
class Record(Generic[V]):
    number: int  # 1-based position in the file
    line: int  # line where the record starts
    value: V


def usable(records: Iterable[Record[object]], findings: Iterable[Finding]) -> list[Record[Fields]]:
    """The object records that no error finding names."""
    bad = {f.record for f in findings if f.is_error}
    return [
        Record(r.number, r.line, r.value)
        for r in records
        if r.number not in bad and isinstance(r.value, dict)
    ]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_records(path: Path) -> tuple[list[Record[object]], list[Finding]]:
    """Parse a JSON array or JSONL file, keeping the line where each record starts."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], [Finding.error(source, "file not found", fix="check the path")]
    except OSError as exc:
        return [], [Finding.error(source, f"cannot read: {exc.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return [], [
            Finding.error(source, f"not UTF-8 (byte {exc.start})", line=line, fix="save as UTF-8")
        ]
    if not text.strip():
        return [], [
            Finding.error(source, "the file is empty", fix=f"add records such as {EXAMPLE}")
        ]
    if text.lstrip().startswith("[") and not path.suffix == ".jsonl":
        return _read_array(text, source)
    return _read_jsonl(text, source)


_WS = re.compile(r"\s*")


def _skip_space(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _read_array(text: str, source: str) -> tuple[list[Record[object]], list[Finding]]:
    decoder = json.JSONDecoder()
    records: list[Record[object]] = []
    pos = text.index("[") + 1
    n = 0
    line, counted = 1, 0  # line number at offset `counted`, advanced as records are read
    while True:
        pos = _skip_space(text, pos)
        if pos < len(text) and text[pos] == "]":
            after = _skip_space(text, pos + 1)
            if after < len(text):
                return records, [
                    Finding.error(
                        source,
                        "text after the closing ']'",
                        line=_line_at(text, after),
                        fix="remove it, or write one JSON object per line as .jsonl",
                    )
                ]
            return records, []
        n += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return records, [
                Finding.error(
                    source,
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    line=exc.lineno,
                    record=n,
                    fix="the file is cut off or has a typo here; every record needs its closing }"
                    " and records are separated by commas",
                )
            ]
        line += text.count("\n", counted, pos)
        counted = pos
        records.append(Record(n, line, value))
        pos = _skip_space(text, end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            continue
        return records, [
            Finding.error(
                source,
                "expected ',' or ']' after the record"
                + (" but the file ends" if pos >= len(text) else ""),
                line=_line_at(text, min(pos, len(text))),
                record=n,
                fix="add a comma between records, or the closing ']' at the end",
            )
        ]


def _read_jsonl(text: str, source: str) -> tuple[list[Record[object]], list[Finding]]:
    records: list[Record[object]] = []
    findings: list[Finding] = []
    for n, row in enumerate(jsonl.rows(text), start=1):
        if row.ok:
            records.append(Record(n, row.line, row.value))
        else:
            findings.append(
                Finding.error(
                    source,
                    f"invalid JSON: {row.error}",
                    line=row.line,
                    record=n,
                    fix="JSONL holds one complete JSON object per line",
                )
            )
    return records, findings
