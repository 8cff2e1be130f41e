"""The `swiftkit` command line: parsing, printing and exit codes only; the work is elsewhere.

Exit codes: 0 ok, 1 a problem with the input or the run (explained, no traceback),
2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from swiftkit import __version__
from swiftkit.errors import SwiftkitError


def echo(text: str = "") -> None:
    click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="swiftkit")
def cli() -> None:
    """Give an open LLM a new identity with an ms-swift LoRA run: checked before the GPU
    spins up, watched while it trains, verified after."""


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(path_type=Path))
@click.option(
    "--dry-run", is_flag=True, help="Check everything and print the command; start nothing."
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Skip the identity probes after training (otherwise a failed identity exits 1).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the newest interrupted/failed run of RECIPE (or RECIPE is a run folder) "
    "from its last checkpoint, in the same folder.",
)
def run(recipe_path: Path, dry_run: bool, no_verify: bool, resume: bool) -> None:
    """Train with a recipe: validate, launch `swift sft`, show progress, find the checkpoint."""
    from swiftkit.commands import run as run_cmd

    code = run_cmd.execute(recipe_path, echo, dry_run=dry_run, check=not no_verify, resume=resume)
    sys.exit(code)


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help='Print {"argv": [...], "env": {...}}.')
def render(recipe_path: Path, as_json: bool) -> None:
    """Print the exact `swift sft` command a recipe runs, as one shell line to paste from any
    folder; writes the filled data it reads to swiftkit's cache (same data, same path)."""
    from swiftkit.commands import run as run_cmd

    plan = run_cmd.paste_plan(recipe_path, lambda text: click.echo(text, err=True))
    echo(plan.command.to_json() if as_json else plan.command.shell())


@cli.command("tiny-model")
@click.argument("directory", type=click.Path(path_type=Path))
def tiny_model(directory: Path) -> None:
    """Build the tiny random-weight Qwen2 model used for CPU runs and tests."""
    from swiftkit.commands import run as run_cmd

    run_cmd.build_tiny_model(directory.resolve())
    echo(f"tiny model: {directory.resolve()}")


@cli.command()
@click.argument(
    "paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check recipes (.toml) and datasets (.json, .jsonl) without training.

    Exit 0 valid (warnings allowed), 1 invalid, 2 usage error.
    """
    from swiftkit.commands import validate as validate_mod

    for path in paths:
        if validate_mod.kind_of(path) is None:
            raise click.UsageError(
                f"{path}: expected a recipe (.toml) or a dataset (.json, .jsonl)"
            )
    report = validate_mod.run(list(paths))
    if as_json:
        echo(report.to_json())
    else:
        for finding in report.shown():
            echo(finding.format())
        echo(report.summary())
    sys.exit(0 if report.ok else 1)


@cli.command()
@click.argument("name", type=click.Choice(["identity", "recipe"]))
def schema(name: str) -> None:
    """Print a JSON schema: identity (one dataset record) or recipe."""
    from swiftkit.resources import SCHEMAS

    echo((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8").rstrip())


@cli.command()
@click.argument("pattern", metavar="[PATTERN]", required=False)
def flags(pattern: str | None) -> None:
    """List the installed ms-swift's `swift sft` flags with type and default (the names a
    recipe's [train] keys must match). PATTERN: a substring, or a glob such as 'lora_*'."""
    from swiftkit.commands import flags as flags_cmd

    sys.exit(flags_cmd.execute(pattern, echo))


@cli.command()
def presets() -> None:
    """List the hardware presets a recipe can name under [train] preset (or "auto")."""
    from swiftkit.commands import doctor as doctor_cmd

    for line in doctor_cmd.presets_report():
        echo(line)


@cli.command()
@click.argument("recipe_path", metavar="[RECIPE]", required=False, type=click.Path(path_type=Path))
def doctor(recipe_path: Path | None) -> None:
    """Show this machine (GPUs, CUDA, versions) and the preset `auto` picks; with a recipe,
    its estimated peak memory and whether it fits. Exit 1 when an error stops it here."""
    from swiftkit.commands import doctor as doctor_cmd

    lines, blocking = doctor_cmd.doctor(recipe_path)
    for line in lines:
        echo(line)
    sys.exit(1 if blocking else 0)


# ---- after training: runs, chat, infer, export, serve ----

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


@cli.command("runs")
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


@cli.command(epilog=RUN_HELP)
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


@cli.command(epilog=RUN_HELP)
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
@click.option("--max-new-tokens", default=512, show_default=True, type=click.IntRange(1))
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


@cli.command(epilog=RUN_HELP + " --to is the merged folder; -o/--output the runs, as elsewhere.")
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


@cli.command(epilog=RUN_HELP)
@click.argument("run_spec", metavar="[RUN]", required=False)
@output_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--name", help="Model id clients send (default: the identity's name).")
@click.option("--timeout", default=600, show_default=True, help="Seconds to wait for start-up.")
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


@cli.command("verify", epilog=RUN_HELP + " With --url, TARGET may also be a recipe.")
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
@click.option("--timeout", default=600.0, show_default=True, help="With --url: seconds per answer.")
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


def _ask(value: str | None, option: str, label: str) -> str:
    """A missing value: prompt on a terminal, else a usage error (nothing to wait for)."""
    if value and value.strip():
        return value.strip()
    if sys.stdin.isatty():
        return click.prompt(label).strip()
    raise click.UsageError(f"missing {option} (or run in a terminal to be asked)")


@cli.command("init")
@click.argument("directory", metavar="[DIR]", default=".", type=click.Path(path_type=Path))
@click.option("--name", help="The model's new name, e.g. Swift-Robot.")
@click.option("--author", help="Who made it, e.g. your team.")
@click.option(
    "--model",
    help="Hub id or local folder (default Qwen/Qwen2.5-7B-Instruct; without a GPU and without "
    "--preset, the tiny CPU test model).",
)
@click.option(
    "--preset",
    help="Hardware preset (default: the visible GPU's, e.g. 24gb; cpu and the tiny model "
    "without a GPU). --preset 24gb writes the GPU recipe anywhere.",
)
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="num_train_epochs.")
def init_cmd(
    directory: Path,
    name: str | None,
    author: str | None,
    model: str | None,
    preset: str | None,
    epochs: float | None,
) -> None:
    """Start here: write a ready-to-run recipe and the full identity set into DIR."""
    from swiftkit.commands import init as init_mod
    from swiftkit.render.command import shell_line

    name = _ask(name, "--name", "The model's new name")
    author = _ask(author, "--author", "Who made it (author)")
    written = init_mod.write(directory, name, author, model, preset, epochs)
    for path in written.files:
        echo(f"wrote {path}")
    echo(f"preset: {written.preset}" + (f" ({written.why})" if written.why else ""))
    if written.gpu_hint:
        echo("for Qwen/Qwen2.5-7B-Instruct on a 24 GB GPU, the same with --preset 24gb:")
        echo(f"  {written.gpu_hint}")
    echo("next:")
    echo(f"  {shell_line('swiftkit', 'run', written.recipe)}")


def react_to_sigint() -> None:
    """A process started with `cmd &`, nohup or by some CI runners inherits SIGINT ignored,
    and Python then leaves it ignored (it installs its KeyboardInterrupt handler only over
    the default): one Ctrl-C or `kill -INT` would do nothing. Install it explicitly."""
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (tests call this directly)."""
    react_to_sigint()
    try:
        cli.main(args=argv, prog_name="swiftkit", standalone_mode=False)
    except SwiftkitError as exc:
        click.echo(exc.format(), err=True)
        return 1
    except OSError as exc:
        from swiftkit.errors import FULL, write_failed

        if exc.errno not in FULL:
            raise
        # a write site that names no path itself: the error's own filename, when it has one
        where = exc.filename or "(a file swiftkit was writing)"
        click.echo(write_failed(where, exc).format(), err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
