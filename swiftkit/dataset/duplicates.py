"""One question answered twice: the same answer only weighs more (a warning), a different
answer teaches two identities (an error), within one file or across a recipe's files."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

from swiftkit.dataset.read import Fields, Record
from swiftkit.errors import Finding, Where

Key = tuple[object, ...]
BROKEN = (KeyError, TypeError, AttributeError, IndexError)  # a record the checks refused
TWO = ": the model would learn two identities"


def same(text: str) -> str:
    """A question as the model hears it: case, runs of spaces and a closing ?/？ ignored."""
    return " ".join(text.split()).casefold().rstrip("?？ ")


def question_key(value: Fields) -> Key:
    """What makes two records the same question: (system, question turns), as `same` reads."""
    if "messages" in value:
        msgs = value["messages"]
        return ("messages", tuple((m["role"], same(m["content"])) for m in msgs[:-1]))
    return (
        "alpaca",
        same(value.get("system", "")),
        same(value["instruction"]),
        same(value.get("input", "")),
    )


def answer(value: Fields) -> str:
    text = value["messages"][-1]["content"] if "messages" in value else value["output"]
    return str(text).strip()


class Seen:
    """The questions of one file, each stored as hashes (question -> record, line, answer), so
    a file of a million records costs about 100 MB here rather than its text."""

    def __init__(self, path: Path):
        self.path = path
        self.index: dict[int, int] = {}  # hash of the question -> position in `rows`
        self.rows = array("q")  # record number, line, hash of the answer, 1 if messages

    def add(self, rec: Record[Fields]) -> Finding | None:
        try:
            key, said = question_key(rec.value), answer(rec.value)
        except BROKEN:
            return None
        h, a = hash(key), hash(said)
        at = self.index.get(h)
        if at is None:
            self.index[h] = len(self.rows)
            self.rows.extend((rec.number, rec.line, a, key[0] == "messages"))
            return None
        number, line, first_said, _ = self.rows[at : at + 4]
        fld = "output" if key[0] == "alpaca" else f"messages[{len(rec.value['messages']) - 1}]"
        where = f"record {number} (line {line})"
        if first_said == a:
            make, message = Finding.warning, f"exact duplicate of {where}"
            fix = "remove it unless you mean to weigh it twice"
        else:
            make, message = Finding.error, f"same question as {where} with a different answer{TWO}"
            fix = "keep one answer per question, or reword the question"
        return make(str(self.path), message, line=rec.line, record=rec.number, field=fld, fix=fix)


def cross_file_conflicts(files: Sequence[Seen]) -> list[Finding]:
    """One question answered differently in two of the recipe's files (within one file,
    Seen.add reports it)."""
    first: dict[int, tuple[Seen, int]] = {}
    findings = []
    for seen in files:
        for h, at in seen.index.items():
            other, other_at = first.setdefault(h, (seen, at))
            number, line, said, messages = seen.rows[at : at + 4]
            other_number, other_line, other_said, _ = other.rows[other_at : other_at + 4]
            if other.path != seen.path and other_said != said:
                message = (
                    f"same question as record {other_number} of {other.path} (line {other_line}) "
                    f"with a different answer{TWO}"
                )
                fld = "messages" if messages else "output"
                fix = "keep one answer per question across the recipe's datasets"
                where: Where = {"line": line, "record": number, "field": fld, "fix": fix}
                findings.append(Finding.error(str(seen.path), message, **where))
    return findings
