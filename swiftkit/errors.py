"""Errors and findings that name the file, the line or record, the field, and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Finding:
    """One problem found in a file; `severity` is "error" or "warning"."""

    severity: str
    file: str
    message: str
    line: int | None = None
    record: int | None = None
    field: str | None = None
    fix: str | None = None

    def format(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        parts = []
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.field:
            parts.append(f"field '{self.field}'")
        head = f"{where}: {self.severity}: " + (", ".join(parts) + ": " if parts else "")
        text = head + self.message
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text

    def to_dict(self) -> dict:
        return asdict(self)


class SwiftkitError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 1."""

    def __init__(self, message: str, findings: list[Finding] | None = None):
        super().__init__(message)
        self.message = message
        self.findings = list(findings or [])

    def format(self) -> str:
        lines = [f"error: {self.message}"]
        lines += ["  " + f.format().replace("\n", "\n  ") for f in self.findings]
        return "\n".join(lines)


def errors_only(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]
