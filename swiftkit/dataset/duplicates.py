"""One question answered twice: the same answer only weighs more (a warning), a different
answer teaches two identities (an error), within one file or across a recipe's files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from swiftkit.dataset.read import Fields, Record
from swiftkit.errors import Finding

Key = tuple[object, ...]
BROKEN = (KeyError, TypeError, AttributeError, IndexError)  # a record the checks refused


def question_key(value: Fields) -> Key:
    """What makes two records the same question: (system, question turns), stripped."""
    if "messages" in value:
        msgs = value["messages"]
        return ("messages", tuple((m["role"], m["content"].strip()) for m in msgs[:-1]))
    return (
        "alpaca",
        value.get("system", "").strip(),
        value["instruction"].strip(),
        value.get("input", "").strip(),
    )


def answer(value: Fields) -> str:
    """The trained answer: the last turn's content, or the output; stripped."""
    text = value["messages"][-1]["content"] if "messages" in value else value["output"]
    return str(text).strip()


def _keyed(records: Sequence[Record[Fields]]) -> list[tuple[Record[Fields], Key, str]]:
    out = []
    for rec in records:
        try:
            out.append((rec, question_key(rec.value), answer(rec.value)))
        except BROKEN:
            continue
    return out


def duplicate_findings(records: Sequence[Record[Fields]], source: str) -> list[Finding]:
    """The same question with two answers teaches two identities (error); a repeated record
    only weighs more (warning). Only records that passed the other checks are compared."""
    seen: dict[Key, tuple[Record[Fields], str]] = {}
    findings = []
    for rec, key, said in _keyed(records):
        if key not in seen:
            seen[key] = (rec, said)
            continue
        first, first_said = seen[key]
        fld = "output" if key[0] == "alpaca" else f"messages[{len(rec.value['messages']) - 1}]"
        where = f"record {first.number} (line {first.line})"
        if first_said == said:
            make, message = Finding.warning, f"exact duplicate of {where}"
            fix = "remove it unless you mean to weigh it twice"
        else:
            make = Finding.error
            message = (
                f"same question as {where} with a different answer: the model would learn two "
                "identities"
            )
            fix = "keep one answer per question, or reword the question"
        findings.append(make(source, message, line=rec.line, record=rec.number, field=fld, fix=fix))
    return findings


def cross_file_conflicts(loaded: Sequence[tuple[Path, Sequence[Record[Fields]]]]) -> list[Finding]:
    """One question answered differently in two of the recipe's files (within one file,
    duplicate_findings reports it)."""
    first: dict[Key, tuple[Path, Record[Fields], str]] = {}
    findings = []
    for path, records in loaded:
        for rec, key, said in _keyed(records):
            if key not in first:
                first[key] = (path, rec, said)
                continue
            other_path, other, other_said = first[key]
            if other_path != path and other_said != said:
                findings.append(
                    Finding.error(
                        str(path),
                        f"same question as record {other.number} of {other_path} (line "
                        f"{other.line}) with a different answer: the model would learn two "
                        "identities",
                        line=rec.line,
                        record=rec.number,
                        field="output" if key[0] == "alpaca" else "messages",
                        fix="keep one answer per question across the recipe's datasets",
                    )
                )
    return findings
