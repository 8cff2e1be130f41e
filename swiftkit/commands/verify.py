"""`swiftkit verify [TARGET]` (default `latest`): the identity (and general) probes on the
base model and the adapter, from one model load; or, with --url, on any OpenAI-compatible
server. report.json, report.md and loss.png in the run folder. Exit 0 only on a pass; 130
when interrupted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from swiftkit import defaults
from swiftkit.commands import guard_model_code
from swiftkit.pipeline import launch
from swiftkit.pipeline.progress import StatusLine
from swiftkit.pipeline.resolve import announce, resolve
from swiftkit.serving.client import Endpoint
from swiftkit.verify.remote import is_recipe, verify_url
from swiftkit.verify.report import PASS, pct
from swiftkit.verify.verdict import verify

Echo = Callable[[str], None]


def execute(
    spec: str | None,
    echo: Echo,
    as_json: bool = False,
    base: bool = True,
    url: str | None = None,
    model: str | None = None,
    base_model: str | None = None,
    api_key: str | None = None,
    timeout: float = defaults.TIMEOUT_S,
    output_dir: Path | None = None,
    status_echo: Echo | None = None,
    trust_remote_code: bool = False,
) -> int:
    with launch.stoppable(), StatusLine(status_echo or echo) as status:
        if url:
            endpoint = Endpoint.of(url, api_key, timeout)
            report = verify_url(spec, endpoint, model, base_model, status, output_dir)
        else:
            if is_recipe(spec):
                from swiftkit.errors import SwiftkitError

                raise SwiftkitError.at(
                    f"a recipe names no checkpoint: {spec}",
                    str(spec),
                    "verify a recipe's identity on a served model with --url, or pass a run",
                    fix=f"swiftkit verify --url http://127.0.0.1:8000/v1 {spec}",
                )
            target = resolve(spec or "latest", output_dir)
            announce(target, None if as_json else echo)  # JSON on stdout stays parseable
            guard_model_code(target, trust_remote_code, "verify")
            report = verify(target, base=base, status=status)
    if as_json:
        scores = {
            "verdict": report.verdict,
            "identity": report.identity.to_dict(),
            "general": report.general.to_dict(),
            "checkpoint": report.checkpoint,
            "served": report.served,
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
