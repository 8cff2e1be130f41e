"""`swiftkit verify [TARGET]` (default `latest`): the identity (and general) probes on the
base model and the adapter, from one model load; or, with --url, on any OpenAI-compatible
server. report.json, report.md and loss.png in the run folder. Exit 0 only on a pass; 130
when interrupted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from swiftkit import defaults
from swiftkit.commands import RUN_HELP, open_target, target_command, to_stderr, usage
from swiftkit.errors import Echo, SwiftkitError
from swiftkit.pipeline import launch
from swiftkit.pipeline.progress import StatusLine
from swiftkit.serving.client import Endpoint, check_key, check_timeout, check_url
from swiftkit.verify.remote import is_recipe, verify_url
from swiftkit.verify.report import PASS, pct
from swiftkit.verify.verdict import verify


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
    judge: str | None = None,
    judge_model: str | None = None,
) -> int:
    with launch.stoppable(), StatusLine(status_echo or echo) as status:
        if url:
            endpoint = Endpoint.of(url, api_key, timeout)
            report = verify_url(
                spec, endpoint, model, base_model, status, output_dir, judge, judge_model
            )
        else:
            if is_recipe(spec):
                raise SwiftkitError.at(
                    f"a recipe names no checkpoint: {spec}",
                    str(spec),
                    "verify a recipe's identity on a served model with --url, or pass a run",
                    fix=f"swiftkit verify --url http://127.0.0.1:8000/v1 {spec}",
                )
            quiet = None if as_json else echo
            target = open_target("verify", spec, output_dir, quiet, trust_remote_code)
            report = verify(target, base, status, judge, judge_model)
    if as_json:
        scores = {
            "verdict": report.verdict,
            "identity": report.identity.to_dict(),
            "general": report.general.to_dict(),
            "checkpoint": report.checkpoint,
            "served": report.served,
            "report": str(report.folder),
            "judge": report.judged(),
        }
        echo(json.dumps(scores, ensure_ascii=False, indent=2))
    else:
        echo(report.headline())
        gen = report.general
        if gen.probes:
            leaked = "" if gen.leaked is None else f"; {gen.leaked} name the new identity"
            echo(
                f"general: {pct(gen.adapter)} of {gen.probes} probes "
                f"(base model {pct(gen.base)}{leaked}; {gen.verdict})"
            )
        judged = report.judged()
        if judged:
            echo(judged)
        echo(f"report: {report.folder / 'report.md'}")
    return 0 if report.verdict == PASS else 1


@target_command(
    "verify", epilog=RUN_HELP + " With --url, TARGET may also be a recipe.", metavar="[TARGET]"
)
@click.option("--json", "as_json", is_flag=True, help='The report\'s scores as JSON ("verdict").')
@click.option("--no-base", is_flag=True, help="Skip the base model (no before/after).")
@click.option(
    "--url",
    callback=lambda c, p, v: usage(check_url, v),
    help="Verify a model served there instead (OpenAI API, e.g. .../v1).",
)
@click.option("--model", help="With --url: the model id to ask (default: the only one served).")
@click.option("--base-model", help="With --url: also ask this model id, as the before.")
@click.option(
    "--api-key",
    callback=lambda c, p, v: usage(check_key, v),
    help="With --url: the server's key (default $SWIFTKIT_API_KEY, $OPENAI_API_KEY).",
)
@click.option(
    "--timeout",
    default=defaults.TIMEOUT_S,
    show_default=True,
    callback=lambda c, p, v: usage(check_timeout, v),
    help="With --url: seconds per answer (each request as a whole).",
)
@click.option(
    "--judge",
    metavar="URL",
    callback=lambda c, p, v: usage(check_url, v),
    help="Also have the model served there (OpenAI API) grade each identity answer; its "
    "grades go beside the rules' (key: $SWIFTKIT_JUDGE_API_KEY).",
)
@click.option("--judge-model", help="With --judge: the model id (default: the only one served).")
def verify_command(**options: Any) -> int:
    """Ask the identity (and general) probes of the base model and the adapter (one model
    load), or of a served model (--url); write report.json, report.md and loss.png into the
    run folder. Exit 0 only on a pass."""
    needs_what = {"--model": "url", "--base-model": "url", "--api-key": "url"}
    for option, needs in {**needs_what, "--judge-model": "judge"}.items():
        if options[option[2:].replace("-", "_")] and not options[needs]:
            raise click.UsageError(f"{option} needs --{needs}")
    base = not options.pop("no_base")
    return execute(echo=click.echo, status_echo=to_stderr, base=base, **options)
