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

from swiftkit import __version__, cli_after
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
    from swiftkit.pipeline.plan import paste_plan

    plan = paste_plan(recipe_path, lambda text: click.echo(text, err=True))
    echo(plan.command.to_json() if as_json else plan.command.shell())


@cli.command("tiny-model")
@click.argument("directory", type=click.Path(path_type=Path))
def tiny_model(directory: Path) -> None:
    """Build the tiny random-weight Qwen2 model used for CPU runs and tests."""
    from swiftkit.pipeline.checks import build_tiny_model

    build_tiny_model(directory.resolve())
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
    from swiftkit.msswift.command import shell_line

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


for _command in cli_after.COMMANDS:
    cli.add_command(_command)


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
