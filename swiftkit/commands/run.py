"""`swiftkit run RECIPE`: check everything, launch `swift sft`, watch it, find the checkpoint
(the work is swiftkit/pipeline/: plan, checks, train)."""

from __future__ import annotations

from pathlib import Path

import click

from swiftkit.commands import to_stderr
from swiftkit.errors import Echo
from swiftkit.pipeline import train
from swiftkit.pipeline.checks import build_tiny_model
from swiftkit.pipeline.plan import paste_plan, plan, resume_plan


def execute(
    recipe_path: Path,
    echo: Echo,
    dry_run: bool = False,
    check: bool = True,
    resume: bool = False,
) -> int:
    if dry_run and not resume:
        p = paste_plan(recipe_path, echo)
    else:
        p = resume_plan(recipe_path) if resume else plan(recipe_path)
    for w in p.warnings:
        echo(w.format())
    if dry_run:
        echo(p.command.shell())
        return 0
    return train.start(p, echo, check, resume)


@click.command("run")
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
def run_command(recipe_path: Path, dry_run: bool, no_verify: bool, resume: bool) -> int:
    """Train with a recipe: validate, launch `swift sft`, show progress, find the checkpoint."""
    return execute(recipe_path, click.echo, dry_run=dry_run, check=not no_verify, resume=resume)


@click.command("render")
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help='Print {"argv": [...], "env": {...}}.')
def render_command(recipe_path: Path, as_json: bool) -> int:
    """Print the exact `swift sft` command a recipe runs, as one shell line to paste from any
    folder; writes the filled data it reads to swiftkit's cache (same data, same path)."""
    plan = paste_plan(recipe_path, to_stderr)
    click.echo(plan.command.to_json() if as_json else plan.command.shell())
    return 0


@click.command("tiny-model")
@click.argument("directory", type=click.Path(path_type=Path))
def tiny_model_command(directory: Path) -> int:
    """Build the tiny random-weight Qwen2 model used for CPU runs and tests."""
    build_tiny_model(directory.resolve())
    click.echo(f"tiny model: {directory.resolve()}")
    return 0
