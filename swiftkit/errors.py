"""The one way swiftkit says what is wrong: a Finding names the file, the line or record, the
field and the fix; a SwiftkitError carries findings to the CLI, which prints them without a
traceback (exit 1)."""

from __future__ import annotations

import difflib
import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal, TypedDict

if TYPE_CHECKING:
    from typing_extensions import Unpack

Severity = Literal["error", "warning", "note"]
Echo = Callable[[str], None]  # prints one line for the user (click.echo, a test's list.append)


class Where(TypedDict, total=False):
    """Where a finding points and what fixes it: the keyword-only part of every Finding."""

    line: int | None
    record: int | None
    field: str | None
    fix: str | None


@dataclass(frozen=True)
class Finding:
    """One problem found in a file. Build it with Finding.error / .warning / .note."""

    severity: Severity
    file: str
    message: str
    line: int | None = None
    record: int | None = None
    field: str | None = None
    fix: str | None = None

    @classmethod
    def error(cls, file: str, message: str, **where: Unpack[Where]) -> Finding:
        return cls("error", file, message, **where)

    @classmethod
    def warning(cls, file: str, message: str, **where: Unpack[Where]) -> Finding:
        return cls("warning", file, message, **where)

    @classmethod
    def note(cls, file: str, message: str, *, fix: str | None = None) -> Finding:
        return cls("note", file, message, fix=fix)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        parts = [f"record {self.record}"] if self.record is not None else []
        parts += [f"field '{self.field}'"] if self.field else []
        head = f"{where}: {self.severity}: " + (", ".join(parts) + ": " if parts else "")
        return head + self.message + (f"\n    fix: {self.fix}" if self.fix else "")

    def to_dict(self) -> dict:
        return asdict(self)


class SwiftkitError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 1."""

    def __init__(self, message: str, findings: Iterable[Finding] = ()):
        super().__init__(message)
        self.message = message
        self.findings = list(findings)

    @classmethod
    def at(cls, headline: str, file: str, message: str, **where: Unpack[Where]) -> SwiftkitError:
        """The common case: one error finding under a headline."""
        return cls(headline, [Finding.error(file, message, **where)])

    def format(self) -> str:
        lines = [f"error: {self.message}"]
        lines += ["  " + f.format().replace("\n", "\n  ") for f in self.findings]
        return "\n".join(lines)


def errors_only(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_error]


def closest(word: str, known: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The known word nearest to `word` (case-insensitive), or None: the one near-miss rule
    behind every "did you mean" (keys, flags, fields, presets)."""
    by_lower = {k.lower(): k for k in reversed(list(known))}  # the first spelling wins
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[close[0]] if close else None


def did_you_mean(word: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """'did you mean 'x'? ' for the closest known word, else ''."""
    near = closest(word, known, cutoff=cutoff)
    return f"did you mean '{near}'? " if near else ""


KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device"}
KINDS |= {stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}
MiB = 1 << 20


def not_a_file(path: str | os.PathLike[str], limit: int | None = None) -> tuple[str, str] | None:
    """(why, fix) when `path` is not a regular file swiftkit may read whole, else None: the one
    check before every user file is opened (recipe, dataset, probes). A FIFO or a device
    (/dev/zero, also through a symlink) would block or never end; a symlink loop is named."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "not found", "check the path (relative paths start at the recipe's folder)"
    except (OSError, ValueError) as exc:
        if getattr(exc, "errno", None) == errno.ELOOP:
            return "is a symlink loop (it points back at itself)", "point it at a real file"
        return f"cannot be read: {getattr(exc, 'strerror', None) or exc}", "check the path"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file", "name a file inside it (`ls` the folder)"
    if not stat.S_ISREG(st.st_mode):
        what = KINDS.get(stat.S_IFMT(st.st_mode), "a special file")
        return f"is {what}, not a regular file: reading it might never end", "name a real file"
    if limit is not None and st.st_size > limit:
        size = f"{st.st_size / MiB:.0f} MiB, more than the {limit / MiB:.0f} MiB"
        return f"is {size} swiftkit reads here", "split it into smaller files"
    return None


def refuse_unless_file(path: str | os.PathLike[str], what: str, limit: int | None = None) -> None:
    """not_a_file as a SwiftkitError naming `what` (a recipe, a probe file) and the path."""
    if problem := not_a_file(path, limit):
        why, fix = problem
        raise SwiftkitError.at(f"{what} {why}: {path}", str(path), f"{what} {why}", fix=fix)


FULL = (errno.ENOSPC, errno.EDQUOT)


def write_failed(path: str | os.PathLike[str], exc: OSError) -> SwiftkitError:
    """An OSError while swiftkit wrote `path`, as the user reads it: a full disk (or quota)
    named as such with the path, anything else with its reason. A write() that fails says
    only "No space left on device", never which file: the path comes from the caller."""
    if exc.errno in FULL:
        return SwiftkitError.at(
            f"no space left on device: {path}",
            str(path),
            "no space left on device" if exc.errno == errno.ENOSPC else "disk quota exceeded",
            fix="free space on that disk (`df -h` shows it), or point output_dir at another",
        )
    return SwiftkitError.at(
        f"cannot write {path}", str(path), exc.strerror or str(exc), fix="check the path"
    )


@contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an OSError raised while writing `path` into `write_failed`'s SwiftkitError."""
    try:
        yield
    except OSError as exc:
        raise write_failed(path, exc) from None
