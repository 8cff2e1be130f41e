"""Identity datasets: read (JSON array or JSONL), check, fill {{NAME}}/{{AUTHOR}}, write a copy.

Every finding names the file, the line where the record starts, the record (1-based) and the
field. A file is checked as a stream, BATCH records at a time, so memory stays flat however
large it is; at most MAX_FINDINGS findings are kept per file (the rest are counted).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from swiftkit.dataset.duplicates import Seen
from swiftkit.dataset.fill import (
    Identity,
    fill_record,
    leftover_findings,
    placeholder_findings,
    says_identity,
)
from swiftkit.dataset.length import TokenCounter, length_findings
from swiftkit.dataset.read import EXAMPLE, read_records, sha256, stream, usable
from swiftkit.dataset.records import Formats, record_findings, surely_valid
from swiftkit.errors import Finding

__all__ = ["read_records", "sha256"]  # the re-exported names (plan, probes)

BATCH = 5000  # records checked together (the tokenizer encodes a batch at once)
MAX_FINDINGS = 1000  # kept per file: the first ones by line; the rest are only counted


@dataclass
class Checked:
    path: Path
    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    usable: int = 0  # records that can be trained on
    more: int = 0  # findings past MAX_FINDINGS, counted and not kept
    says: bool = False  # a usable answer names the identity or holds {{NAME}}/{{AUTHOR}}
    seen: Seen = field(init=False)  # its questions, for conflicts across files

    def __post_init__(self) -> None:
        self.seen = Seen(self.path)

    def add(self, found: list[Finding]) -> None:
        room = MAX_FINDINGS - len(self.findings)
        self.findings += found[:room]
        self.more += max(0, len(found) - room)

    def result(self) -> list[Finding]:
        out = sorted(self.findings, key=lambda f: (f.line or 0, f.record or 0))
        errors = " errors" if any(f.is_error for f in out) else ""
        message = (
            f"... and {self.more} more problem(s) in this file, not listed (past the first "
            f"{MAX_FINDINGS}{errors}, each bad record counts once)"
        )
        fix = "fix the ones listed and validate again"
        return out + [Finding.note(str(self.path), message, fix=fix)] if self.more else out


def check_file(
    path: Path,
    identity: Identity | None,
    max_length: int | None = None,
    counter: TokenCounter | None = None,
    system: str | None = None,
) -> Checked:
    """identity=None means "no recipe": {{NAME}}/{{AUTHOR}} are accepted without a value."""
    source = str(path)
    out = Checked(path)
    read_problems: list[Finding] = []
    records = stream(path, read_problems.append)
    formats = Formats()
    while True:
        batch = list(itertools.islice(records, BATCH))
        out.add(read_problems)
        read_problems.clear()
        if not batch:
            break
        out.records += len(batch)
        for rec in batch:
            formats.add(rec)
        if len(out.findings) >= MAX_FINDINGS:
            # Past the cap only the count matters: a record the schema rejects (surely_valid
            # is exactly the schema for parsed JSON) counts once, without jsonschema's
            # explanation; a file of a million bad records stays seconds, not minutes.
            out.more += sum(not surely_valid(rec.value) for rec in batch)
            continue
        found = record_findings(batch, source)
        good = usable(batch, found)
        out.usable += len(good)
        found += [f for f in map(out.seen.add, good) if f is not None]
        found += placeholder_findings(batch, source, identity)
        if identity is not None:
            found += leftover_findings(good, source, identity)
            out.says = out.says or says_identity(good, identity)
        if max_length and counter is not None:
            found += length_findings(good, source, max_length, counter, system, identity)
        out.add(found)
    mixed = list(itertools.islice(formats.findings(source), MAX_FINDINGS + 1))
    out.usable -= len(mixed)
    out.add(mixed)
    if not out.records and not out.findings:
        out.add([Finding.error(source, "no records", line=1, fix=f"add records such as {EXAMPLE}")])
    return out


def render_copy(path: Path, identity: Identity, out_dir: Path, name: str) -> Path:
    """Write the dataset with placeholders filled to out_dir/name as JSONL; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    with target.open("w", encoding="utf-8") as fh:
        for rec in stream(path, lambda finding: None):
            fh.write(json.dumps(fill_record(rec.value, identity), ensure_ascii=False) + "\n")
    return target
