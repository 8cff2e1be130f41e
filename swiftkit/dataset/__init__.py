"""Identity datasets: read (JSON array or JSONL), check, fill {{NAME}}/{{AUTHOR}}, write a copy.

Every finding carries the file, the line where the record starts, the record number (1-based)
and the field, so the user can go straight to it. The rooms: read.py (records and where they
start), records.py (the schema and turn order), fill.py (placeholders), length.py (tokens),
duplicates.py (one question, two answers), for_recipe.py (the files as a recipe trains on them).
"""

from __future__ import annotations

import json
from pathlib import Path

from swiftkit.dataset.duplicates import duplicate_findings
from swiftkit.dataset.fill import Identity, fill_record, leftover_findings, placeholder_findings
from swiftkit.dataset.length import TokenCounter, length_findings
from swiftkit.dataset.read import EXAMPLE, Record, read_records, sha256, usable
from swiftkit.dataset.records import record_findings
from swiftkit.errors import Finding

__all__ = ["Record", "TokenCounter", "check_file", "read_records", "render_copy", "sha256"]


def check_file(
    path: Path,
    identity: Identity | None,
    max_length: int | None = None,
    counter: TokenCounter | None = None,
    system: str | None = None,
) -> tuple[list[Record[object]], list[Finding]]:
    """Read and check one dataset file; returns the records and all findings.

    identity=None means "no recipe": {{NAME}}/{{AUTHOR}} are accepted without a value.
    """
    source = str(path)
    records, findings = read_records(path)
    if not records and not findings:
        findings.append(
            Finding.error(source, "no records", line=1, fix=f"add records such as {EXAMPLE}")
        )
    structural = record_findings(records, source)
    findings += structural
    good = usable(records, structural)
    findings += duplicate_findings(good, source)
    findings += placeholder_findings(records, source, identity)
    if identity is not None:
        findings += leftover_findings(good, source, identity)
    if max_length:
        findings += length_findings(
            good, source, max_length, counter or TokenCounter(), system, identity
        )
    findings.sort(key=lambda f: (f.line or 0, f.record or 0))
    return records, findings


def render_copy(path: Path, identity: Identity, out_dir: Path, name: str | None = None) -> Path:
    """Write the dataset with placeholders filled into out_dir as JSONL; return its path."""
    records, _ = read_records(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (name or path.stem + ".jsonl")
    with target.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(fill_record(rec.value, identity), ensure_ascii=False) + "\n")
    return target
