"""Prove the identity: ask the probes of the base model and the adapter (one `swift deploy`,
serving/pair.py) or of any OpenAI-compatible server (`--url`), score them, write the report.
A verdict is only ever given on measured answers: none is "no verdict", never a pass."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from swiftkit.errors import SwiftkitError
from swiftkit.msswift.args import FILE as ARGS_JSON
from swiftkit.msswift.args import CheckpointArgs, args_path
from swiftkit.pipeline.manifest import MANIFEST, now_iso
from swiftkit.pipeline.resolve import Target
from swiftkit.pipeline.stopcheck import stop_checks
from swiftkit.recipe.model import VerifySpec
from swiftkit.serving.client import Answer, ask_all, progress_counter
from swiftkit.serving.pair import Status, one_load
from swiftkit.verify import report as rpt
from swiftkit.verify import scoring
from swiftkit.verify.general import judge_general
from swiftkit.verify.probes import Messages, Probe, gather
from swiftkit.verify.report import ProbeRow, VerifyReport


def _key(messages: Messages) -> str:
    return json.dumps(messages, ensure_ascii=False, sort_keys=True)


def cached_base_answers(out_dir: Path, args: CheckpointArgs, cfg: VerifySpec) -> dict[str, Answer]:
    """The base model's answers from an earlier report in the same folder, when they were
    asked of the same model, template, system prompt and answer length (greedy decoding
    makes them the same answers again; a 7B base model takes minutes to ask)."""
    old = VerifyReport.read(out_dir / rpt.REPORT_JSON)
    if old is None or not (
        old.served is None  # asked of the base model here, not of some server
        and old.base_model == args.model
        and old.template == args.template
        and old.system == args.system
        and old.config.max_new_tokens == cfg.max_new_tokens
    ):
        return {}
    return {
        _key(r.messages): Answer(r.base, r.base_finish)
        for r in old.probes
        if isinstance(r.base, str) and r.messages
    }


def _judge(
    probe: Probe, answer: str | None, new: list[str], old: list[str], cut_off: bool = False
) -> scoring.Judgement | None:
    """Whether the answer passes and why; None when it was not asked. `cut_off`: the answer
    stopped at max_new_tokens (finish_reason "length")."""
    if answer is None:
        return None
    if probe.set == "identity":
        need, question = probe.need, probe.question
        return scoring.judge_identity(
            answer, new, old, need=need, question=question, cut_off=cut_off
        )
    return judge_general(answer, probe.expect, probe.question, rivals=probe.rivals, cut_off=cut_off)


def probe_row(
    probe: Probe,
    before: str | None,
    after: str | None,
    new: list[str],
    old: list[str],
    cut_before: bool = False,
    cut_after: bool = False,
) -> ProbeRow:
    """A probe's report row: both answers, whether each passed, and why."""
    b = _judge(probe, before, new, old, cut_before)
    a = _judge(probe, after, new, old, cut_after)
    return ProbeRow(
        id=probe.id,
        set=probe.set,
        kind=probe.kind,
        messages=probe.messages,
        expect=probe.expect,
        question=probe.question,
        base=before,
        base_ok=b.ok if b else None,
        adapter=after,
        adapter_ok=a.ok if a else None,
        base_why=b.reason if b else None,
        adapter_why=a.reason if a else None,
    )


def answer_row(
    probe: Probe, b: Answer | None, a: Answer | None, new: list[str], old: list[str]
) -> ProbeRow:
    """probe_row for answers that carry their finish_reason (kept in the report)."""
    cuts = bool(b and b.cut_off), bool(a and a.cut_off)
    row = probe_row(probe, b.text if b else None, a.text if a else None, new, old, *cuts)
    return replace(
        row,
        base_finish=b.finish_reason if b else None,
        adapter_finish=a.finish_reason if a else None,
    )


@dataclass(frozen=True)
class Asked:
    """After (the adapter, or the served model) and before (the base model; None: not asked),
    the base answers reused from the earlier report, where they were asked (None: here)."""

    after: list[Answer]
    before: list[Answer | None]
    reused: int = 0
    served: str | None = None


def ask_checkpoint(
    target: Target, probes: list[Probe], cfg: VerifySpec, base: bool, status: Status
) -> Asked:
    """Both sets of answers from one model load (an earlier report's base answers if valid)."""
    conversations = [p.messages for p in probes]
    keys = [_key(p.messages) for p in probes]
    cache = cached_base_answers(target.folder, target.args(), cfg) if base else {}
    todo = [i for i, k in enumerate(keys) if k not in cache] if base else []
    with one_load(target, target.folder / "verify", status) as served:
        ask = partial(ask_all, served.endpoint, max_tokens=cfg.max_new_tokens)
        after = ask(served.adapter, conversations, on_answer=progress_counter(status, "adapter"))
        fresh: list[Answer] = []
        if todo and served.base is not None:
            again = [conversations[i] for i in todo]
            fresh = ask(served.base, again, on_answer=progress_counter(status, "base"))
    if not base:
        return Asked(after, [None] * len(probes))
    got = dict(zip(todo, fresh, strict=False))
    before = [got.get(i) or cache.get(k) for i, k in enumerate(keys)]
    return Asked(after, before, reused=len(probes) - len(todo))


def quiet(_text: str | None) -> None:
    """No progress to show."""


@dataclass(frozen=True)
class Subject:
    """What is verified: the checkpoint, the report's folder (None: the checkpoint's), args."""

    checkpoint: Path
    run_dir: Path | None
    args: CheckpointArgs


def need_identity(new: list[str], where: str) -> list[str]:
    if not new:
        raise SwiftkitError.at(
            "no new identity to look for",
            where,
            f"neither the recipe's [identity] nor {ARGS_JSON} names the model or its author",
            fix='add [identity] with name = "..." and author = "..." to the recipe',
        )
    return new


def what_to_ask(target: Target, args: CheckpointArgs) -> tuple[VerifySpec, list[str], list[Probe]]:
    """[verify], the new identity (a located error when none) and probes; also for --url."""
    manifest = target.manifest()
    cfg = manifest.verify_spec(target.run_dir)
    where = str(target.run_dir / MANIFEST if target.run_dir else args_path(target.checkpoint))
    # the recipe's [identity], else the checkpoint's args.json
    who = manifest.identity.who if manifest.identity.new else (args.model_name, args.model_author)
    names, authors = (list(dict.fromkeys(w)) for w in who)
    new = need_identity(list(dict.fromkeys(names + authors)), where)
    return cfg, new, gather(cfg, target.run_dir, args, names, authors)


def with_judge(cfg: VerifySpec, judge: str | None, judge_model: str | None) -> VerifySpec:
    """`verify --judge URL --judge-model ID` over the recipe's [verify] judge."""
    return replace(cfg, judge=judge or cfg.judge, judge_model=judge_model or cfg.judge_model)


def verify(
    target: Target,
    base: bool = True,
    status: Status = quiet,
    judge: str | None = None,
    judge_model: str | None = None,
) -> VerifyReport:
    """Probe the checkpoint and its base from one model load; score, write, return the report."""
    args = target.require_args()
    cfg, new, probes = what_to_ask(target, args)
    cfg = with_judge(cfg, judge, judge_model)
    asked = ask_checkpoint(target, probes, cfg, base, status) if probes else Asked([], [])
    subject = Subject(target.checkpoint, target.run_dir, args)
    return score_and_write(subject, cfg, new, probes, asked)


def second_opinion(
    cfg: VerifySpec, probes: list[Probe], rows: list[ProbeRow], new: list[str], old: list[str]
) -> tuple[list[ProbeRow], str]:
    """The judge model's grade beside the rules' on each identity answer of the adapter; the
    rows and which model judged. Its key is $SWIFTKIT_JUDGE_API_KEY only: the verified
    server's key never goes to the judge's host."""
    from swiftkit.serving.client import Endpoint
    from swiftkit.verify import judge

    assert cfg.judge
    endpoint = Endpoint.of(cfg.judge, keys=("SWIFTKIT_JUDGE_API_KEY",))
    model = endpoint.pick_model(cfg.judge_model)
    todo = [i for i, r in enumerate(rows) if r.set == "identity" and r.adapter is not None]
    items = [
        (rows[i].question, probes[i].asks or "name or author", rows[i].adapter or "") for i in todo
    ]
    grades = judge.grade(endpoint, model, items, new, old)
    out = list(rows)
    for i, g in zip(todo, grades, strict=True):
        out[i] = replace(rows[i], judge_ok=g.ok, judge_why=g.reason or ("PASS" if g.ok else "FAIL"))
    return out, f"{model} at {endpoint.url}"


def score_and_write(
    subject: Subject, cfg: VerifySpec, new: list[str], probes: list[Probe], asked: Asked
) -> VerifyReport:
    """Judge every answer, score the sets, write the report files; the report."""
    args = subject.args
    old = scoring.old_markers(new, scoring.family_of(args.model, args.model_type))
    after: list[Answer | None] = list(asked.after) or [None] * len(probes)
    before = asked.before or [None] * len(probes)
    rows = [answer_row(p, b, a, new, old) for p, a, b in zip(probes, after, before, strict=True)]
    judged_by = None
    if cfg.judge:
        rows, judged_by = second_opinion(cfg, probes, rows, new, old)
    identity = rpt.set_scores(rows, "identity", cfg.identity_threshold)
    gates = cfg.general_threshold, cfg.general_max_drop, cfg.general_max_leak
    general = rpt.set_scores(rows, "general", *gates, new=new)
    report = VerifyReport(
        verdict=rpt.overall(identity, general),
        checkpoint=str(subject.checkpoint),
        run_dir=str(subject.run_dir) if subject.run_dir else None,
        base_model=args.model,
        template=args.template,
        system=args.system,
        new_identity=new,
        old_identity=old,
        config=cfg,
        identity=identity,
        general=general,
        stop_when_verified=stop_checks(subject.run_dir),
        base_answers_reused=asked.reused,
        probes=rows,
        measured=now_iso(),
        served=asked.served,
        judge=judged_by,
    )
    return rpt.write_report(report)
