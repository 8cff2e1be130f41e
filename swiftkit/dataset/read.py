"""Reading a dataset file, a JSON array or JSON Lines, into records with the line each starts
on, and findings, never an exception. JSON Lines is read a line at a time (a 200 MB file is
never held whole); an array is held as text and decoded one record at a time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from swiftkit.dataset import jsontext
from swiftkit.errors import Finding, Where, not_a_file

if TYPE_CHECKING:
    from typing_extensions import Unpack

Fields = dict[str, Any]
V = TypeVar("V", covariant=True)
EXAMPLE = '{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}。"}'
WHOLE_FILE_PROBE = 64 * 1024 * 1024  # a .json file up to this size is tried as one value
Report = Callable[[Finding], None]
Say = Callable[..., None]  # (message, **Where): an error finding in the file being read


class Record(NamedTuple, Generic[V]):
    """A tuple, not a dataclass: a large file makes a million of them (3x cheaper)."""

    number: int  # 1-based position in the file
    line: int  # line where the record starts
    value: V

    def error(self, source: str, message: str, field: str | None, fix: str | None) -> Finding:
        return Finding.error(
            source, message, line=self.line, record=self.number, field=field, fix=fix
        )


def usable(records: Iterable[Record[object]], findings: Iterable[Finding]) -> list[Record[Fields]]:
    bad = {f.record for f in findings if f.is_error}
    return [r for r in records if r.number not in bad and type(r.value) is dict]  # type: ignore[misc]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_records(path: Path) -> tuple[list[Record[object]], list[Finding]]:
    findings: list[Finding] = []
    return list(stream(path, findings.append)), findings


def stream(path: Path, report: Report) -> Iterator[Record[object]]:

    def say(message: str, **where: Unpack[Where]) -> None:
        report(Finding.error(str(path), message, **where))

    if problem := not_a_file(path):
        return say(f"{path.name} {problem[0]}", fix=problem[1])
    try:
        fh = path.open("rb")
    except OSError as exc:
        return say(f"cannot read: {exc.strerror or exc}", fix="check the path")
    with fh:
        head = fh.read(4096)
        if head and not head.strip(b"\0"):  # a copy of /dev/zero: not text in any encoding
            return say(
                "holds only NUL bytes: not a text file", fix=f"write records such as {EXAMPLE}"
            )
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
            len(head) > 3 and head[1:4:2] == b"\0\0"
        ):
            return say(
                "UTF-16 encoded: datasets are read as UTF-8", line=1, fix="save the file as UTF-8"
            )
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not start and not fh.read(1 << 16).strip(b"\xef\xbb\xbf \t\r\n"):
            return say("the file is empty", fix=f"add records such as {EXAMPLE}")
        fh.seek(0)
        if start.startswith(b"[") and path.suffix.lower() != ".jsonl":
            yield from _read_array(fh.read(), say)
        elif not (start.startswith(b"{") and _whole_object(path, fh, say)):
            fh.seek(0)
            yield from _read_jsonl(fh, say)


def _decode(raw: bytes, line: int, say: Say) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 (byte {exc.start} of line {line}: {raw[exc.start : exc.start + 1]!r})"
        say(message, line=line, fix="save the file as UTF-8")
        return None


def _whole_object(path: Path, fh: Any, say: Say) -> bool:
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
    for key, v in value.items():
        rows = isinstance(v, list) and v and isinstance(v[0], dict)
        if key != "messages" and rows and not {"from", "role"} & v[0].keys():  # turns: ShareGPT
            say(
                f"records are under '{key}': the file is one object that wraps them",
                line=1,
                field=key,
                fix=f"write the array itself ([{{...}}, {{...}}]), the value of '{key}', as "
                "the whole file",
            )
            return True
    if one_line:
        return False
    if path.suffix.lower() == ".jsonl":
        message = (
            "one pretty-printed object over several lines: JSON Lines holds one record per line"
        )
        fix = "write each record on a single line"
    else:
        message = "a .json file must hold an array of records; this one holds a single object"
        fix = "wrap it in [ ]: [{...}], or write one object per line as .jsonl"
    say(message, line=1, record=1, fix=fix)
    return True


def _read_array(raw: bytes, say: Say) -> Iterator[Record[object]]:
    text = _decode(raw, 1, say)
    if text is None:
        return
    text = text.removeprefix("\ufeff")
    decoder = jsontext.Decoder()
    pos = text.index("[") + 1
    n = 0
    line, counted = 1, 0  # the line at offset `counted`

    def at(offset: int) -> int:  # offsets only grow: count the newlines once
        nonlocal line, counted
        line, counted = line + text.count("\n", counted, offset), offset
        return line

    comma = False  # the last thing read was a comma after a record
    while True:
        pos = _skip_space(text, pos)
        if text.startswith("]", pos):
            after = _skip_space(text, pos + 1)
            if comma:
                message = "a trailing comma after the last record, before ']'"
                say(message, line=at(pos), record=n, fix="remove the comma after the last record")
            elif after < len(text):
                fix = "remove it, or write one JSON object per line as .jsonl"
                say("text after the closing ']'", line=at(after), fix=fix)
            return
        n += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            message, fix = jsontext.explain(text[pos : pos + 200], exc)
            say(
                f"invalid JSON: {message}",
                line=exc.lineno if isinstance(exc, json.JSONDecodeError) else at(pos),
                record=n,
                fix=fix
                or "the file is cut off or has a typo here; every record needs its closing }"
                " and records are separated by commas",
            )
            return
        problem = jsontext.check_value(value, text[pos:end], decoder.repeated)
        if problem:
            say(problem[0], line=at(pos), record=n, field=problem[1], fix=_VALUE_FIX)
        else:
            yield Record(n, at(pos), value)
        pos = _skip_space(text, end)
        comma = text.startswith(",", pos)
        pos += comma
        if not comma and not text.startswith("]", pos):
            say(
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


def _read_jsonl(fh: Any, say: Say) -> Iterator[Record[object]]:
    n = 0
    boms: list[int] = []
    decoder = jsontext.Decoder()
    for number, raw in enumerate(fh, start=1):
        text = _decode(raw, number, say)
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
            value = decoder.decode(text)
        except (ValueError, RecursionError) as exc:
            message, fix = jsontext.explain(text, exc)
            fix = fix or "JSONL holds one complete JSON object per line"
            say(f"invalid JSON: {message}", line=number, record=n, fix=fix)
            continue
        if problem := jsontext.check_value(value, text, decoder.repeated):
            say(problem[0], line=number, record=n, field=problem[1], fix=_VALUE_FIX)
        else:
            yield Record(n, number, value)
    if boms:
        say(
            f"{len(boms)} line(s) start with a byte-order mark (U+FEFF), the first at line "
            f"{boms[0]}: files that each had one were joined",
            line=boms[0],
            fix="save the file as UTF-8 without a byte-order mark on any line",
        )
