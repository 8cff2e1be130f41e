"""The `swiftkit` command line: parsing, printing and exit codes only; the work is elsewhere.

Exit codes: 0 ok, 1 a problem with the input or the run (explained, no traceback),
2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import sys
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
@click.option("--no-verify", is_flag=True, help="Skip the identity probes after training.")
def run(recipe_path: Path, dry_run: bool, no_verify: bool) -> None:
    """Train with a recipe: validate, launch `swift sft`, show progress, find the checkpoint."""
    from swiftkit.commands import run as run_cmd

    code = run_cmd.execute(recipe_path, echo, dry_run=dry_run, check=not no_verify)
    sys.exit(code)


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help='Print {"argv": [...], "env": {...}}.')
def render(recipe_path: Path, as_json: bool) -> None:
    """Print the exact `swift sft` command a recipe runs, as one shell line."""
    from swiftkit.commands import run as run_cmd

    plan = run_cmd.plan(recipe_path)
    echo(plan.command.to_json() if as_json else plan.command.shell())


@cli.command("tiny-model")
@click.argument("directory", type=click.Path(path_type=Path))
def tiny_model(directory: Path) -> None:
    """Build the tiny random-weight Qwen2 model used for CPU runs and tests."""
    from swiftkit.commands import run as run_cmd

    run_cmd.build_tiny_model(directory.resolve())
    echo(f"tiny model: {directory.resolve()}")


@cli.command("verify")
@click.argument("target", metavar="RUN_OR_CHECKPOINT", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--no-base", is_flag=True, help="Skip the base model (no before/after).")
def verify_cmd(target: Path, as_json: bool, no_base: bool) -> None:
    """Ask the identity (and general) probes of the base model and the adapter; write
    report.json, report.md and loss.png into the run folder. Exit 0 only on a pass."""
    import json

    from swiftkit import verify

    report = verify.verify(target, base=not no_base)
    out = Path(report["run_dir"] or report["checkpoint"])
    if as_json:
        scores = {"verdict": report["verdict"], **report["scores"], "report": str(out)}
        echo(json.dumps(scores, ensure_ascii=False, indent=2))
    else:
        echo(verify.headline(report))
        gen = report["scores"]["general"]
        if gen["probes"]:
            echo(
                f"general: {verify.pct(gen['adapter'])} of {gen['probes']} probes "
                f"(base model {verify.pct(gen['base'])}; {gen['verdict']})"
            )
        echo(f"report: {out / 'report.md'}")
    sys.exit(0 if report["verdict"] == verify.PASS else 1)


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
@click.option("--model", help="Hub id or local folder (default Qwen/Qwen2.5-7B-Instruct).")
@click.option("--preset", help="Hardware preset (default: cpu for the tiny model, else 24gb).")
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

    name = _ask(name, "--name", "The model's new name")
    author = _ask(author, "--author", "Who made it (author)")
    written = init_mod.write(directory, name, author, model, preset, epochs)
    for path in written.files:
        echo(f"wrote {path}")
    echo(f"preset: {written.preset}")
    echo("next:")
    echo(f"  swiftkit run {written.recipe}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (tests call this directly)."""
    try:
        cli.main(args=argv, prog_name="swiftkit", standalone_mode=False)
    except SwiftkitError as exc:
        click.echo(exc.format(), err=True)
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
