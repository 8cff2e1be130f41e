"""`swiftkit verify [RUN_OR_CHECKPOINT]` (default `latest`): the identity (and general)
probes on the base model and the adapter; report.json, report.md and loss.png in the run
folder. Exit 0 only on a pass."""

from __future__ import annotations

import json
from collections.abc import Callable

from swiftkit.commands import guard_model_code
from swiftkit.runs.resolve import announce, resolve
from swiftkit.verify.report import PASS, pct
from swiftkit.verify.verdict import verify

Echo = Callable[[str], None]


def execute(
    spec: str | None,
    echo: Echo,
    as_json: bool = False,
    base: bool = True,
    trust_remote_code: bool = False,
) -> int:
    target = resolve(spec or "latest")
    announce(target, None if as_json else echo)  # JSON on stdout stays parseable
    guard_model_code(target, trust_remote_code, "verify")
    report = verify(target, base=base)
    if as_json:
        scores = {
            "verdict": report.verdict,
            "identity": report.identity.to_dict(),
            "general": report.general.to_dict(),
            "report": str(report.folder),
        }
        echo(json.dumps(scores, ensure_ascii=False, indent=2))
    else:
        echo(report.headline())
        gen = report.general
        if gen.probes:
            echo(
                f"general: {pct(gen.adapter)} of {gen.probes} probes "
                f"(base model {pct(gen.base)}; {gen.verdict})"
            )
        echo(f"report: {report.folder / 'report.md'}")
    return 0 if report.verdict == PASS else 1
