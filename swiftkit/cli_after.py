"""The command line for what comes after training: runs, chat, infer, export, serve, verify.

Parsing and printing only, like cli.py (which adds these commands to the `swiftkit` group);
each command's work is in swiftkit/commands/, imported when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from swiftkit import defaults


def echo(text: str = "") -> None:
    click.echo(text)


RUN_HELP = "RUN: `latest` (default), a run folder, or a checkpoint/model folder."
output_option = click.option(
    "--output",
    "-o",
    "output_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Only the runs in this folder, for `latest` (default: every run, from any folder).",
)
trust_option = click.option(
    "--trust-remote-code",
    is_flag=True,
    help="Load a model folder that ships Python code (auto_map, *.py); it runs as you.",
)


@click.command("runs")
@click.argument(
    "output_dir", metavar="[OUTPUT_DIR]", required=False, type=click.Path(path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="One JSON list, for scripts.")
def runs_command(output_dir: Path | None, as_json: bool) -> None:
    """List every run, newest first: recipe, start, status, steps, loss, verdict, checkpoints.
    Every run swiftkit made, from any folder (and those in ./output); with OUTPUT_DIR, only
    the runs in that folder."""
    from swiftkit.commands import runs as runs_cmd

    sys.exit(runs_cmd.execute(output_dir, echo, as_json=as_json))


@click.command(epilog=RUN_HELP)
@click.argument("run_spec", metavar="[RUN]", required=False)
@output_option
@click.option("--base", is_flag=True, help="Chat with the untouched base model (the before).")
@click.option(
    "--compare", is_flag=True, help="Each question to the base model and the adapter, side by side."
)
@trust_option
def chat(
    run_spec: str | None,
    output_dir: Path | None,
    base: bool,
    compare: bool,
    trust_remote_code: bool,
) -> None:
    """Chat interactively with a trained adapter (`swift infer --stream true`)."""
    from swiftkit.commands import chat as chat_cmd

    if base and compare:
        raise click.UsageError("--base or --compare, not both")
    sys.exit(
        chat_cmd.execute(
            run_spec,
            output_dir,
            echo,
            base=base,
            compare=compare,
            trust_remote_code=trust_remote_code,
        )
    )


@click.command(epilog=RUN_HELP)
@click.argument("run_spec", metavar="[RUN]", required=False)
@output_option
@click.option("--prompt", "-p", "prompts", multiple=True, help="A question (repeatable).")
@click.option(
    "--file",
    "-f",
    "file",
    type=click.Path(path_type=Path),
    help="Questions, one a line: plain text or JSON with messages/query.",
)
@click.option("--json", "as_json", is_flag=True, help="Answers as JSON, for scripts.")
@click.option("--base", is_flag=True, help="Ask the untouched base model instead.")
@click.option(
    "--compare", is_flag=True, help="Ask the base model and the adapter (one model load)."
)
@click.option(
    "--max-new-tokens",
    default=defaults.INFER_MAX_NEW_TOKENS,
    show_default=True,
    type=click.IntRange(1),
)
@trust_option
def infer(
    run_spec: str | None,
    output_dir: Path | None,
    prompts: tuple[str, ...],
    file: Path | None,
    as_json: bool,
    base: bool,
    compare: bool,
    max_new_tokens: int,
    trust_remote_code: bool,
) -> None:
    """Answer questions without a chat session (greedy, through `swift deploy`)."""
    from swiftkit.commands import infer as infer_cmd

    if base and compare:
        raise click.UsageError("--base or --compare, not both")
    sys.exit(
        infer_cmd.execute(
            run_spec,
            output_dir,
            echo,
            prompts=prompts,
            file=file,
            as_json=as_json,
            base=base,
            max_new_tokens=max_new_tokens,
            compare=compare,
            status_echo=lambda text: click.echo(text, err=True),
            trust_remote_code=trust_remote_code,
        )
    )


@click.command(epilog=RUN_HELP + " --to is the merged folder; -o/--output the runs, as elsewhere.")
@click.argument("run_spec", metavar="[RUN]", required=False)
@click.option("--merge", is_flag=True, help="Merge the LoRA into a full model (required).")
@click.option(
    "--ollama",
    "to_ollama",
    is_flag=True,
    help="Also write an Ollama Modelfile (TEMPLATE and SYSTEM as trained); implies --merge.",
)
@click.option(
    "--to",
    "target_dir",
    type=click.Path(path_type=Path),
    help="The merged model folder; must not exist (default CHECKPOINT-merged).",
)
@output_option
@click.option(
    "--runs-dir",
    "runs_dir",
    type=click.Path(path_type=Path),
    hidden=True,
    help="The old name of -o/--output here.",
)
@trust_option
def export(
    run_spec: str | None,
    merge: bool,
    to_ollama: bool,
    target_dir: Path | None,
    output_dir: Path | None,
    runs_dir: Path | None,
    trust_remote_code: bool,
) -> None:
    """Merge the adapter into a full model folder (`swift export --merge_lora true`) whose chat
    template defaults to the trained system prompt, with a model card (README.md)."""
    from swiftkit.commands import export as export_cmd

    if not (merge or to_ollama):
        raise click.UsageError("only --merge is supported: swiftkit export [RUN] --merge")
    if output_dir is not None and target_dir is None and not output_dir.is_dir():
        # -o/--output named the merged folder here before; now it is the runs, as elsewhere
        raise click.UsageError(
            f"-o/--output is the folder holding the runs (as in chat, infer, serve) and "
            f"{output_dir} is not one; the merged folder is --to: "
            f"swiftkit export [RUN] --merge --to {output_dir}"
        )
    output_dir = output_dir or runs_dir
    sys.exit(
        export_cmd.execute(
            run_spec,
            output_dir,
            echo,
            target_dir=target_dir,
            to_ollama=to_ollama,
            trust_remote_code=trust_remote_code,
        )
    )


@click.command(epilog=RUN_HELP)
@click.argument("run_spec", metavar="[RUN]", required=False)
@output_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--name", help="Model id clients send (default: the identity's name).")
@click.option(
    "--timeout", default=defaults.TIMEOUT_S, show_default=True, help="Seconds to wait for start-up."
)
@click.option("--base", is_flag=True, help="Serve the untouched base model instead.")
@click.option(
    "--api-key",
    envvar="SWIFTKIT_API_KEY",
    help="Require `Authorization: Bearer KEY` on every request (default $SWIFTKIT_API_KEY).",
)
@trust_option
def serve(
    run_spec: str | None,
    output_dir: Path | None,
    host: str,
    port: int,
    name: str | None,
    timeout: float,
    base: bool,
    api_key: str | None,
    trust_remote_code: bool,
) -> None:
    """Serve an OpenAI-compatible API (`swift deploy`) until Ctrl-C."""
    from swiftkit.commands import serve as serve_cmd

    source = click.get_current_context().get_parameter_source("api_key")
    sys.exit(
        serve_cmd.execute(
            run_spec,
            output_dir,
            echo,
            host=host,
            port=port,
            name=name,
            timeout=timeout,
            base=base,
            api_key=api_key or None,
            key_from_env=bool(api_key) and source == click.core.ParameterSource.ENVIRONMENT,
            trust_remote_code=trust_remote_code,
        )
    )


@click.command("verify", epilog=RUN_HELP + " With --url, TARGET may also be a recipe.")
@click.argument("target", metavar="[TARGET]", default="latest")
@output_option
@click.option("--json", "as_json", is_flag=True, help='The report\'s scores as JSON ("verdict").')
@click.option("--no-base", is_flag=True, help="Skip the base model (no before/after).")
@click.option("--url", help="Verify a model served there instead (OpenAI API, e.g. .../v1).")
@click.option("--model", help="With --url: the model id to ask (default: the only one served).")
@click.option("--base-model", help="With --url: also ask this model id, as the before.")
@click.option(
    "--api-key", help="With --url: the server's key (default $SWIFTKIT_API_KEY, $OPENAI_API_KEY)."
)
@click.option(
    "--timeout",
    default=defaults.TIMEOUT_S,
    show_default=True,
    help="With --url: seconds per answer.",
)
@trust_option
def verify_cmd(
    target: str | None,
    output_dir: Path | None,
    as_json: bool,
    no_base: bool,
    url: str | None,
    model: str | None,
    base_model: str | None,
    api_key: str | None,
    timeout: float,
    trust_remote_code: bool,
) -> None:
    """Ask the identity (and general) probes of the base model and the adapter (one model
    load), or of a served model (--url); write report.json, report.md and loss.png into the
    run folder. Exit 0 only on a pass."""
    from swiftkit.commands import verify as verify_mod

    for option, value in (("--model", model), ("--base-model", base_model), ("--api-key", api_key)):
        if value and not url:
            raise click.UsageError(f"{option} needs --url")
    code = verify_mod.execute(
        target,
        echo,
        as_json=as_json,
        base=not no_base,
        url=url,
        model=model,
        base_model=base_model,
        api_key=api_key,
        timeout=timeout,
        output_dir=output_dir,
        status_echo=lambda text: click.echo(text, err=True),
        trust_remote_code=trust_remote_code,
    )
    sys.exit(code)


COMMANDS = [runs_command, chat, infer, export, serve, verify_cmd]
