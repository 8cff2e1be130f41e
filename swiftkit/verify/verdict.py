"""Prove the identity: ask the probes of the base model and of the adapter through `swift
infer`, score them, and write the report into the run folder.

A verdict is only ever given on answers that were measured: no probes or no answers is
"no verdict", never a pass.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from swiftkit.errors import SwiftkitError
from swiftkit.msswift.args import CheckpointArgs
from swiftkit.recipe.model import VerifySpec
from swiftkit.runs.manifest import MANIFEST, Manifest, now_iso
from swiftkit.runs.resolve import Target
from swiftkit.verify import scoring
from swiftkit.verify.ask import ask
from swiftkit.verify.probes import Messages, Probe, gather
from swiftkit.verify.report import (
    REPORT_JSON,
    ProbeRow,
    VerifyReport,
    overall,
    set_scores,
    write_report,
)
from swiftkit.verify.stopcheck import stop_checks

BATCH = 16  # probes per forward pass in `swift infer` (its default is 1 at a time)


def identity_of(manifest: Manifest, args: CheckpointArgs) -> list[str]:
    """The new name and author: the recipe's [identity], else the checkpoint's args.json."""
    new = manifest.identity.new or [*args.model_name, *args.model_author]
    return list(dict.fromkeys(new))


def _key(messages: Messages) -> str:
    return json.dumps(messages, ensure_ascii=False, sort_keys=True)


def cached_base_answers(out_dir: Path, args: CheckpointArgs, cfg: VerifySpec) -> dict[str, str]:
    """The base model's answers from an earlier report in the same folder, when they were
    asked of the same model, template, system prompt and answer length (greedy decoding
    makes them the same answers again; a 7B base model takes minutes to ask)."""
    old = VerifyReport.read(out_dir / REPORT_JSON)
    if old is None:
        return {}
    same = (
        old.base_model == args.model
        and old.template == args.template
        and old.system == args.system
        and old.config.max_new_tokens == cfg.max_new_tokens
    )
    if not same:
        return {}
    return {_key(r.messages): r.base for r in old.probes if isinstance(r.base, str) and r.messages}


def _judge(
    probe: Probe, answer: str | None, new: list[str], old: list[str], cut_off: bool = False
) -> scoring.Judgement | None:
    """Whether the answer passes and why; None when it was not asked. `cut_off`: the answer
    stopped at max_new_tokens (finish_reason "length")."""
    if answer is None:
        return None
    if probe.set == "identity":
        return scoring.judge_identity(answer, new, old, cut_off=cut_off)
    return scoring.judge_general(answer, probe.expect, cut_off=cut_off)


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


def verify(target: Target, base: bool = True) -> VerifyReport:
    """Probe, score and write the report (report.json, report.md, loss.png); return it."""
    args = target.require_args()
    run_dir, ckpt = target.run_dir, target.checkpoint
    manifest = target.manifest()
    cfg = manifest.verify_spec(run_dir)
    new = identity_of(manifest, args)
    if not new:
        raise SwiftkitError.at(
            "no new identity to look for",
            str(run_dir / MANIFEST if run_dir else ckpt / "args.json"),
            "neither the recipe's [identity] nor args.json names the model or its author",
            fix="set [identity] name and author in the recipe",
        )
    old = scoring.old_markers(new, scoring.family_of(args.model, args.model_type))
    probes = gather(cfg, run_dir, args, new)
    work = target.folder / "verify"
    conversations = [p.messages for p in probes]
    after: list[str | None] = [None] * len(probes)
    before: list[str | None] = [None] * len(probes)
    reused = 0
    if probes:
        keys = [_key(p.messages) for p in probes]
        cache = cached_base_answers(target.folder, args, cfg) if base else {}
        todo = [i for i, k in enumerate(keys) if k not in cache] if base else []
        # The two `swift infer` processes mostly wait on start-up: run them side by side.
        with ThreadPoolExecutor(max_workers=2) as pool:
            adapter = pool.submit(
                ask, ckpt, conversations, work, False, cfg.max_new_tokens, "adapter", BATCH
            )
            fresh: Future[list[str]] | None = None
            if todo:
                asked = [conversations[i] for i in todo]
                fresh = pool.submit(ask, ckpt, asked, work, True, cfg.max_new_tokens, "base", BATCH)
            after = list(adapter.result())
            got = dict(zip(todo, fresh.result() if fresh else [], strict=True))
        if base:
            before = [got[i] if i in got else cache[k] for i, k in enumerate(keys)]
            reused = len(probes) - len(todo)
    rows = [probe_row(p, before[i], after[i], new, old) for i, p in enumerate(probes)]
    identity = set_scores(rows, "identity", cfg.identity_threshold)
    general = set_scores(rows, "general", cfg.general_threshold, cfg.general_max_drop)
    report = VerifyReport(
        verdict=overall(identity, general),
        checkpoint=str(ckpt),
        run_dir=str(run_dir) if run_dir else None,
        base_model=args.model,
        template=args.template,
        system=args.system,
        new_identity=new,
        old_identity=old,
        config=cfg,
        identity=identity,
        general=general,
        stop_when_verified=stop_checks(run_dir),
        base_answers_reused=reused,
        probes=rows,
        measured=now_iso(),
    )
    return write_report(report)
