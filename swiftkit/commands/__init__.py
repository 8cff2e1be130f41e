"""One module per command, each with its click definition; what several of them share is here."""

from __future__ import annotations

from pathlib import Path

import click

from swiftkit.pipeline.resolve import Target
from swiftkit.recipe.checks import refuse_model_code

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


def to_stderr(text: str) -> None:
    """Status lines: on stderr, so stdout stays what a script parses."""
    click.echo(text, err=True)


def guard_model_code(target: Target, trusted: bool, command: str) -> None:
    """Before any child starts: the checkpoint and the local base model it names must not ship
    code, unless the user opted in (--trust-remote-code, or the run's recipe trusted it)."""
    trusted = trusted or target.manifest().recipe_resolved.trust_remote_code
    folders = [target.checkpoint]
    base = target.args().model
    if base and Path(base).is_dir():
        folders.append(Path(base))
    refuse_model_code(folders, trusted, command)
