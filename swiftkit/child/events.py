"""ms-swift's output and logging.jsonl -> typed events; known failure signatures -> advice."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from swiftkit.render import compat, sftflags
from swiftkit.resources import DATA

_FAILURES = DATA / "failures.json"
LAST_CKPT = re.compile(r"last_model_checkpoint:\s*(\S+)")
BEST_CKPT = re.compile(r"best_model_checkpoint:\s*(\S+)")


@dataclass
class Step:
    """One logging.jsonl row of training progress."""

    step: int
    max_steps: int
    loss: float | None = None
    token_acc: float | None = None
    learning_rate: float | None = None
    epoch: float | None = None
    elapsed: str | None = None
    remaining: str | None = None
    memory: str | None = None

    def line(self) -> str:
        parts = [f"step {self.step}/{self.max_steps}"]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4f}")
        if self.token_acc is not None:
            parts.append(f"acc {self.token_acc:.3f}")
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch:g}")
        if self.elapsed:
            parts.append(f"elapsed {self.elapsed}")
        if self.remaining:
            parts.append(f"eta {self.remaining}")
        if self.memory:
            parts.append(f"mem {self.memory}")
        return "  ".join(parts)


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_row(row: dict) -> Step | None:
    steps = row.get("global_step/max_steps")
    if not isinstance(steps, str) or "/" not in steps:
        return None
    try:
        step, max_steps = (int(x) for x in steps.split("/", 1))
    except ValueError:
        return None
    memory = next((str(v) for k, v in row.items() if k.startswith("memory")), None)
    return Step(
        step=step,
        max_steps=max_steps,
        loss=_float(row.get("loss")),
        token_acc=_float(row.get("token_acc")),
        learning_rate=_float(row.get("learning_rate")),
        epoch=_float(row.get("epoch")),
        elapsed=row.get("elapsed_time"),
        remaining=row.get("remaining_time"),
        memory=memory,
    )


def read_steps(path: Path) -> list[Step]:
    """Every progress row of a logging.jsonl (a half-written last line is skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    return steps_in(text.splitlines())


def steps_in(lines: list[str]) -> list[Step]:
    """The progress rows among logging.jsonl lines; other rows and broken lines are skipped."""
    steps = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "loss" in row:
            step = parse_row(row)
            if step:
                steps.append(step)
    return steps


class LogTail:
    """Follows a logging.jsonl that the child appends to; yields the new steps."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.buffer = ""

    def new_steps(self) -> list[Step]:
        try:
            with self.path.open("r", encoding="utf-8") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
                self.offset = fh.tell()
        except OSError:
            return []
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split("\n")
        return steps_in(lines)


@dataclass
class Advice:
    id: str
    title: str
    advice: str
    evidence: str


@lru_cache(maxsize=1)
def signatures() -> list[dict]:
    return json.loads(_FAILURES.read_text(encoding="utf-8"))["signatures"]


def diagnose(lines: list[str]) -> Advice | None:
    """The first known failure signature in the output, with its advice filled in."""
    for sig in signatures():
        pattern = re.compile(sig["pattern"], re.IGNORECASE)
        for line in lines:
            m = pattern.search(line)
            if m:
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
            why = compat.rename_note(name, version) or ""
            out.append(
                f"--{name} is spelled --{new} by ms-swift {version}"
                + (f" ({why})" if why else "")
                + ". "
            )
        else:
            known = sorted(sftflags.known_flags()[0])
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            if close and name not in known:
                out.append(f"--{name}: did you mean --{close[0]}? ")
    if not out:
        return "Flags get renamed between releases (4.1 renamed --train_type to --tuner_type). "
    return "".join(out)


def checkpoint_from_output(lines: list[str]) -> str | None:
    for line in reversed(lines):
        m = LAST_CKPT.search(line)
        if m and m.group(1) != "None":
            return m.group(1)
    return None
