"""Identity datasets: read (JSON array or JSONL), check, fill {{NAME}}/{{AUTHOR}}, write a copy.

Every finding carries the file, the line where the record starts, the record number (1-based)
and the field, so the user can go straight to it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from swiftkit.errors import Finding

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
FILLS = {"NAME": "name", "AUTHOR": "author"}


@dataclass
class Record:
    number: int  # 1-based position in the file
    line: int  # line where the record starts
    value: object


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_records(path: Path) -> tuple[list[Record], list[Finding]]:
    """Parse a JSON array or JSONL file, keeping the line where each record starts."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], [Finding("error", source, "file not found", fix="check the path")]
    except OSError as exc:
        return [], [Finding("error", source, f"cannot read: {exc.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return [], [
            Finding(
                "error", source, f"not UTF-8 (byte {exc.start})", line=line, fix="save as UTF-8"
            )
        ]
    if not text.strip():
        return [], [
            Finding(
                "error",
                source,
                "the file is empty",
                fix="add records such as "
                '{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}。"}',
            )
        ]
    if text.lstrip().startswith("[") and not path.suffix == ".jsonl":
        return _read_array(text, source)
    return _read_jsonl(text, source)


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _read_array(text: str, source: str) -> tuple[list[Record], list[Finding]]:
    decoder = json.JSONDecoder()
    records: list[Record] = []
    pos = text.index("[") + 1
    n = 0
    ws = re.compile(r"\s*")
    while True:
        pos = ws.match(text, pos).end()
        if pos < len(text) and text[pos] == "]":
            rest = text[pos + 1 :].strip()
            if rest:
                return records, [
                    Finding(
                        "error",
                        source,
                        "text after the closing ']'",
                        line=_line_at(
                            text, pos + 1 + (len(text[pos + 1 :]) - len(text[pos + 1 :].lstrip()))
                        ),
                        fix="remove it, or write one JSON object per line as .jsonl",
                    )
                ]
            return records, []
        n += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return records, [
                Finding(
                    "error",
                    source,
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    line=exc.lineno,
                    record=n,
                    fix="the file is cut off or has a typo here; every record needs its closing }"
                    " and records are separated by commas",
                )
            ]
        records.append(Record(n, _line_at(text, pos), value))
        pos = ws.match(text, end).end()
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            continue
        return records, [
            Finding(
                "error",
                source,
                "expected ',' or ']' after the record"
                + (" but the file ends" if pos >= len(text) else ""),
                line=_line_at(text, min(pos, len(text))),
                record=n,
                fix="add a comma between records, or the closing ']' at the end",
            )
        ]


def _read_jsonl(text: str, source: str) -> tuple[list[Record], list[Finding]]:
    records: list[Record] = []
    findings: list[Finding] = []
    n = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        n += 1
        try:
            records.append(Record(n, lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            findings.append(
                Finding(
                    "error",
                    source,
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    line=lineno,
                    record=n,
                    fix="JSONL holds one complete JSON object per line",
                )
            )
    return records, findings


def answer_fields(value: dict) -> dict[str, str]:
    """The text fields of a record that placeholders may appear in, by field path."""
    out: dict[str, str] = {}
    if not isinstance(value, dict):
        return out
    for key in ("system", "instruction", "input", "output", "query", "response"):
        if isinstance(value.get(key), str):
            out[key] = value[key]
    msgs = value.get("messages")
    if isinstance(msgs, list):
        for i, m in enumerate(msgs):
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                out[f"messages[{i}].content"] = m["content"]
    return out


def placeholder_findings(records: list[Record], source: str, identity: dict) -> list[Finding]:
    """Placeholders swiftkit cannot fill: unknown names, or known ones the recipe lacks."""
    findings = []
    for rec in records:
        for fld, text in answer_fields(rec.value).items():
            for m in PLACEHOLDER.finditer(text):
                key = m.group(1).upper()
                if key not in FILLS:
                    findings.append(
                        Finding(
                            "error",
                            source,
                            f"unknown placeholder '{m.group(0)}'",
                            line=rec.line,
                            record=rec.number,
                            field=fld,
                            fix="only {{NAME}} and {{AUTHOR}} are filled (from the recipe's "
                            "[identity]); write the text itself instead",
                        )
                    )
                elif not identity.get(FILLS[key]):
                    findings.append(
                        Finding(
                            "error",
                            source,
                            f"'{m.group(0)}' needs [identity] {FILLS[key]} in the recipe",
                            line=rec.line,
                            record=rec.number,
                            field=fld,
                            fix=f'add under [identity]: {FILLS[key]} = "..."',
                        )
                    )
    return findings


def fill(text: str, identity: dict) -> str:
    def sub(m: re.Match) -> str:
        key = m.group(1).upper()
        value = identity.get(FILLS.get(key, ""), "")
        return value or m.group(0)

    return PLACEHOLDER.sub(sub, text)


def fill_record(value: object, identity: dict) -> object:
    if isinstance(value, str):
        return fill(value, identity)
    if isinstance(value, list):
        return [fill_record(v, identity) for v in value]
    if isinstance(value, dict):
        return {k: fill_record(v, identity) for k, v in value.items()}
    return value


ALPACA = ("instruction", "input", "output", "system")


def record_findings(records: list[Record], source: str) -> list[Finding]:
    """The checks every record must pass for ms-swift to train on it as intended.

    ms-swift silently drops a record with no answer and trains anyway; here it is an error.
    """
    findings: list[Finding] = []
    for rec in records:
        v = rec.value

        def add(msg: str, fld: str | None = None, fix: str | None = None, rec=rec) -> None:
            findings.append(Finding("error", source, msg, rec.line, rec.number, fld, fix))

        if not isinstance(v, dict):
            add(
                f"expected a JSON object, got {type(v).__name__}",
                fix='write {"instruction": ..., "input": "", "output": ...}',
            )
            continue
        if "messages" in v:
            msgs = v["messages"]
            if not isinstance(msgs, list) or not msgs:
                add("'messages' must be a non-empty list", "messages")
                continue
            for i, m in enumerate(msgs):
                fld = f"messages[{i}]"
                if not isinstance(m, dict):
                    add("expected an object with role and content", fld)
                elif m.get("role") not in ("system", "user", "assistant"):
                    add(
                        f"role must be system, user or assistant, got {m.get('role')!r}",
                        fld + ".role",
                    )
                elif not isinstance(m.get("content"), str) or not m["content"].strip():
                    add(
                        "content is empty or not a string",
                        fld + ".content",
                        "every turn needs text",
                    )
            if isinstance(msgs[-1], dict) and msgs[-1].get("role") != "assistant":
                add(
                    "the last turn must be the assistant's answer",
                    f"messages[{len(msgs) - 1}]",
                    'end with {"role": "assistant", "content": "..."}',
                )
            continue
        for key in ("instruction", "output"):
            if key not in v:
                add(
                    f"missing '{key}'",
                    key,
                    "ms-swift would drop this record silently; add it"
                    if key == "output"
                    else "add the question",
                )
            elif not isinstance(v[key], str):
                add(f"expected a string, got {type(v[key]).__name__}", key)
            elif not v[key].strip():
                add("empty or whitespace only", key, f"write the {key}")
        for key in ("input", "system"):
            if key in v and not isinstance(v[key], str):
                add(f"expected a string, got {type(v[key]).__name__}", key)
        for key in v:
            if key not in ALPACA:
                close = difflib.get_close_matches(key, ALPACA, n=1)
                add(
                    f"unknown field '{key}'",
                    key,
                    (f"did you mean '{close[0]}'? " if close else "")
                    + "alpaca records have instruction, input, output, system",
                )
    return findings


def check_file(path: Path, identity: dict) -> tuple[list[Record], list[Finding]]:
    """Read and check one dataset file; returns the records and all findings."""
    records, findings = read_records(path)
    findings += record_findings(records, str(path))
    findings += placeholder_findings(records, str(path), identity)
    return records, findings


def render_copy(path: Path, identity: dict, out_dir: Path, name: str | None = None) -> Path:
    """Write the dataset with placeholders filled into out_dir as JSONL; return its path."""
    records, _ = read_records(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (name or path.stem + ".jsonl")
    with target.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(fill_record(rec.value, identity), ensure_ascii=False) + "\n")
    return target
