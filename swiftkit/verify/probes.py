"""Probes: the questions verify asks. From probe files (JSON Lines, datasets/README.md), from
the run's own training data (the records whose answer names the new identity), and from the
recipe's [verify] questions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from swiftkit import dataset, jsonl
from swiftkit.errors import MiB, SwiftkitError, refuse_unless_file
from swiftkit.msswift.args import CheckpointArgs
from swiftkit.recipe.model import TRAINING, VerifySpec
from swiftkit.verify.scoring import needs

ASKS = ("name", "author", "both")  # what an identity probe asks; none said: either

MAX_PROBES = 64 * MiB  # read whole: thousands of probes are a few MiB

Messages = list[dict[str, Any]]


@dataclass(frozen=True)
class Probe:
    id: str
    set: str  # "identity" or "general"
    kind: str
    messages: Messages
    expect: list[str] = field(default_factory=list)
    lang: str = ""  # a probe file's `lang`; "" for training probes and [verify] questions
    rivals: tuple[str, ...] = ()  # a general probe: what the set's other probes expect
    asks: str | None = None  # an identity probe: "name", "author", "both"; None: either
    need: tuple[tuple[str, ...], ...] = ()  # what its answer must assert (scoring.needs)

    @property
    def question(self) -> str:
        return str(self.messages[-1]["content"])


def _bad_probe(path: Path, line: int, message: str) -> SwiftkitError:
    return SwiftkitError.at(
        f"probe file {path} does not parse",
        str(path),
        message,
        line=line,
        fix='one JSON object per line: {"id": "...", "kind": "...", "messages": '
        '[{"role": "user", "content": "..."}]} (see datasets/README.md)',
    )


def load_probes(path: Path, set_name: str) -> list[Probe]:
    """A probe file (JSON Lines, datasets/README.md); any bad line is an error naming it."""
    refuse_unless_file(path, "probe file", MAX_PROBES)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SwiftkitError(f"cannot read probe file {path}: {exc}") from None
    probes: list[Probe] = []
    for row in jsonl.rows(text):
        if not row.ok:
            raise _bad_probe(path, row.line, f"not JSON: {row.error}")
        value = row.value if isinstance(row.value, dict) else {}
        messages = value.get("messages")
        # a non-empty list of turns, each with a role and text content, ending with the user
        if not (
            isinstance(messages, list)
            and messages
            and all(
                isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role")
                for m in messages
            )
            and messages[-1]["role"] == "user"
        ):
            raise _bad_probe(
                path, row.line, "'messages' must be a list of turns ending with a user turn"
            )
        expect = value.get("expect", [])
        if set_name == "general" and not (
            isinstance(expect, list) and expect and all(isinstance(e, str) for e in expect)
        ):
            raise _bad_probe(path, row.line, "a general probe needs 'expect': a list of strings")
        asks = value.get("asks")
        if asks is not None and asks not in ASKS:
            raise _bad_probe(path, row.line, f"'asks' must be one of {', '.join(ASKS)}")
        probes.append(
            Probe(
                str(value.get("id", f"{path.stem}-{row.line}")),
                set_name,
                str(value.get("kind", set_name)),
                list(messages),
                [str(e) for e in expect] if isinstance(expect, list) else [],
                str(value.get("lang", "")),
                asks=asks,
            )
        )
    if not probes:
        raise _bad_probe(path, 1, "no probes in the file")
    return probes


def _in(answer: str, words: list[str]) -> bool:
    return any(w and w.lower() in answer.lower() for w in words)


def training_probes(data_files: list[Path], names: list[str], authors: list[str]) -> list[Probe]:
    """The run's own identity questions: records whose answer names the new name or author;
    each asks what its training answer names (the name, the author, or both)."""
    probes: list[Probe] = []
    for path in data_files:
        records, _ = dataset.read_records(path)
        for rec in records:
            v = rec.value
            if not isinstance(v, dict):
                continue
            question: Messages
            if "messages" in v:
                msgs = [m for m in v["messages"] if m.get("role") != "system"]
                if not msgs or msgs[-1].get("role") != "assistant":
                    continue
                answer, question = str(msgs[-1]["content"]), msgs[:-1]
            else:
                answer = str(v.get("output", ""))
                q = str(v.get("instruction", "")) + ("\n" + v["input"] if v.get("input") else "")
                question = [{"role": "user", "content": q}]
            named, authored = _in(answer, names), _in(answer, authors)
            if named or authored:
                asks = "both" if named and authored else "name" if named else "author"
                probes.append(
                    Probe(
                        f"train-{len(probes) + 1:02d}", "identity", "training", question, asks=asks
                    )
                )
    return probes


def data_files(run_dir: Path | None, args: CheckpointArgs) -> list[Path]:
    """The run's filled data copies, else the local datasets args.json names."""
    if run_dir and (run_dir / "data").is_dir():
        return sorted((run_dir / "data").glob("*.jsonl"))
    return [Path(d.split("#")[0]) for d in args.dataset if Path(d).is_file()]


def gather(
    cfg: VerifySpec,
    run_dir: Path | None,
    args: CheckpointArgs,
    names: list[str],
    authors: list[str],
) -> list[Probe]:
    """Every probe [verify] names: identity probes and questions, each with what its answer must
    assert, then general probes; of the probe files, only those in [verify] languages when it
    is set."""

    def in_files(spec: str, set_name: str) -> list[Probe]:
        loaded = load_probes(cfg.path(spec), set_name)
        return [p for p in loaded if not cfg.languages or p.lang in cfg.languages]

    probes: list[Probe] = []
    for spec in cfg.identity_probes:
        if spec == TRAINING:
            probes += training_probes(data_files(run_dir, args), names, authors)
        else:
            probes += in_files(spec, "identity")
    probes += [
        Probe(f"question-{i:02d}", "identity", "question", [{"role": "user", "content": q}])
        for i, q in enumerate(cfg.questions, 1)
    ]
    probes = [replace(p, need=tuple(map(tuple, needs(p.asks, names, authors)))) for p in probes]
    general = [p for spec in cfg.general_probes for p in in_files(spec, "general")]
    every = [(p.id, e) for p in general for e in p.expect]
    return probes + [replace(p, rivals=tuple(e for i, e in every if i != p.id)) for p in general]
