"""ms-swift's output and logging.jsonl -> typed events; known failure signatures -> advice."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from swiftkit import jsonl
from swiftkit.errors import Finding, SwiftkitError, closest
from swiftkit.msswift import compat, sftflags
from swiftkit.resources import table


@dataclass
class Step:
    """One logging.jsonl row of training progress."""

    step: int
    max_steps: int
    loss: float | None = None
    token_acc: float | None = None
    epoch: float | None = None
    elapsed: str | None = None
    remaining: str | None = None  # ms-swift's own estimate, e.g. "1m 2s"
    memory: str | None = None

    def stats(self) -> list[str]:
        """ "loss 1.2345", "acc 0.512", ... for what the row has."""
        # ms-swift logs step/steps_per_epoch in full (0.0126582); two decimals are enough
        epoch = None if self.epoch is None else f"{round(self.epoch, 2):g}"
        parts = [
            ("loss", None if self.loss is None else f"{self.loss:.4f}"),
            ("acc", None if self.token_acc is None else f"{self.token_acc:.3f}"),
            ("epoch", epoch),
            ("elapsed", self.elapsed),
            ("eta", self.remaining),
            ("mem", self.memory),
        ]
        return [f"{label} {text}" for label, text in parts if text]

    def line(self) -> str:
        return "  ".join([f"step {self.step}/{self.max_steps}", *self.stats()])


def _float(value: object) -> float | None:
    try:
        return float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None


def parse_row(row: object) -> Step | None:
    """A progress row (one with a loss and `global_step/max_steps`), or None."""
    if not isinstance(row, dict) or "loss" not in row:
        return None
    steps = row.get("global_step/max_steps")
    if not isinstance(steps, str) or "/" not in steps:
        return None
    try:
        step, max_steps = (int(x) for x in steps.split("/", 1))
    except ValueError:
        return None
    memory = next((str(v) for k, v in row.items() if str(k).startswith("memory")), None)
    loss, acc, epoch = (_float(row.get(k)) for k in ("loss", "token_acc", "epoch"))
    elapsed, remaining = (row.get(k) for k in ("elapsed_time", "remaining_time"))
    elapsed, remaining = (None if t is None else str(t) for t in (elapsed, remaining))
    return Step(step, max_steps, loss, acc, epoch, elapsed, remaining, memory)


def steps_in(values: Iterable[object]) -> list[Step]:
    """The progress rows among logging.jsonl values; other rows are skipped."""
    return [s for s in map(parse_row, values) if s is not None]


def read_steps(path: Path) -> list[Step]:
    """The progress of a logging.jsonl, one row per step in step order (a half-written last
    line is skipped). After `run --resume` ms-swift appends again from the checkpoint's step,
    so a step can appear twice: the last row of each step wins (it is the training that the
    checkpoints now hold)."""
    by_step = {s.step: s for s in steps_in(jsonl.values(path))}
    return [by_step[k] for k in sorted(by_step)]


class Follow:
    """A file another process appends to: the complete lines added since the last call.
    Bytes after the last newline (a line being written, maybe cut inside a character) wait
    for the rest."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except OSError:
            return []
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        return [line.decode("utf-8", errors="replace") for line in lines]


class LogTail(Follow):
    """Follows a logging.jsonl that the child appends to; yields the new steps."""

    def new_steps(self) -> list[Step]:
        return steps_in(r.value for r in jsonl.rows("\n".join(self.new_lines())) if r.ok)


@dataclass
class Advice:
    id: str
    title: str
    advice: str
    evidence: str


def diagnose(lines: list[str]) -> Advice | None:
    """The first known failure signature in the output, with its advice filled in."""
    for sig in table("failures.json")["signatures"]:
        pattern = re.compile(sig["pattern"], re.IGNORECASE)
        for line in lines:
            if m := pattern.search(line):
                advice = sig["advice"]
                for i, g in enumerate(m.groups(), start=1):
                    advice = advice.replace("{" + str(i) + "}", g or "")
                if "{renames}" in advice:
                    advice = advice.replace("{renames}", rename_advice(m.group(0)))
                return Advice(sig["id"], sig["title"], advice, line.strip())
    return None


FLAG = re.compile(r"--([A-Za-z_][\w-]*)")


def rename_advice(text: str) -> str:
    """'--train_type is spelled --tuner_type ...' for each renamed flag named in `text`, or a
    did-you-mean for a flag the installed ms-swift does not have."""
    version = compat.target_version()
    out = []
    for name in dict.fromkeys(FLAG.findall(text)):
        new = compat.flag_name(name, version)
        if new != name:
            why = compat.rename_note(name, version)
            note = f" ({why})" if why else ""
            out.append(f"--{name} is spelled --{new} by ms-swift {version}{note}. ")
        else:
            known = sftflags.known_flags()[0]
            if (near := closest(name, sorted(known), cutoff=0.75)) and name not in known:
                out.append(f"--{name}: did you mean --{near}? ")
    if not out:
        return "Flags get renamed between releases (4.0 renamed --train_type to --tuner_type). "
    return "".join(out)


LOG_FILE = "logging.jsonl"  # ms-swift's record of a run: one row per logged step, a closing row


def log_path(run_dir: Path) -> Path:
    """ms-swift's logging.jsonl of a run folder."""
    return run_dir / LOG_FILE


def last_checkpoint(path: Path) -> Path | None:
    """The checkpoint ms-swift names last in its record (logging.jsonl's closing row,
    "last_model_checkpoint"), as a real folder; None when it names none. Read from the
    record, never from its stdout: a path may hold spaces."""
    named = None
    for row in jsonl.values(path):
        if isinstance(row, dict) and isinstance(row.get("last_model_checkpoint"), str):
            named = row["last_model_checkpoint"]
    folder = Path(named).resolve() if named else None  # "last-checkpoint" is a symlink
    return folder if folder is not None and folder.is_dir() else None


# ms-swift 4.6 logs this when its preprocessor or its max_length filter drops rows
# (swift/dataset/preprocessor/core.py, swift/pipelines/utils.py); there is no record of it in
# logging.jsonl, so this one line is read from the log.
FILTERED = re.compile(r"Dataset filtered, origin length: (\d+), filtered dataset length: (\d+)")


class RecordsDropped(SwiftkitError):
    """ms-swift kept fewer rows than swiftkit sent: the run is stopped."""


class DropWatch(Follow):
    """Reads the child's log as it grows and raises RecordsDropped at ms-swift's first
    "Dataset filtered" line. `sent` is each data copy swiftkit wrote and its row count."""

    def __init__(self, log: Path, sent: dict[Path, int]):
        super().__init__(log)
        self.sent = sent

    def check(self) -> None:
        for line in self.new_lines():
            if (m := FILTERED.search(line)) and int(m.group(2)) < int(m.group(1)):
                raise self.error(int(m.group(1)), int(m.group(2)))

    def error(self, origin: int, kept: int) -> RecordsDropped:
        files = [p for p, n in self.sent.items() if n == origin] or list(self.sent)
        where = ", ".join(str(p) for p in files) or "the datasets"
        return RecordsDropped(
            f"ms-swift dropped {origin - kept} of {origin} records ({where}); the run was "
            "stopped rather than train without them",
            [
                Finding.error(
                    str(f),
                    f"ms-swift kept {kept} of the {origin} records swiftkit sent (its log: "
                    f'"Dataset filtered, origin length: {origin}, filtered dataset length: '
                    f'{kept}")',
                    fix=f"`swiftkit validate {f}` names the records ms-swift cannot read "
                    "(mixed formats, no answer, longer than max_length); the full log is "
                    f"{self.path}",
                )
                for f in files
            ],
        )
