"""One module per command, each with its click definition; what several of them share is here."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click

from swiftkit.errors import Echo
from swiftkit.msswift.args import FILE as ARGS_JSON
from swiftkit.pipeline.resolve import Target, announce, resolve
from swiftkit.recipe.checks import refuse_model_code

RUN_HELP = "RUN: `latest` (default), a run folder, or a checkpoint/model folder."
BASE_NEEDS = f"--base reads the base model from the adapter's {ARGS_JSON}"
OUTPUT = click.Option(
    ["--output", "-o", "output_dir"],
    type=click.Path(path_type=Path),
    help="Only the runs in this folder, for `latest` (default: every run, from any folder).",
)
to_stderr = partial(click.echo, err=True)  # status lines: stdout stays what a script parses


def usage(check: Callable[[Any], Any], value: Any) -> Any:
    """A bad option value: click's usage error (exit 2), in check's words."""
    try:
        return value if value is None else check(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


TRUST = click.Option(
    ["--trust-remote-code"],
    is_flag=True,
    help="Load a model folder that ships Python code (auto_map, *.py); it runs as you.",
)


def target_command(
    name: str, epilog: str = RUN_HELP, metavar: str = "[RUN]"
) -> Callable[[Callable[..., Any]], click.Command]:
    """A command on a run or model folder: [RUN] and -o/--output first, its own options, then
    --trust-remote-code."""

    def wrap(f: Callable[..., Any]) -> click.Command:
        command = click.command(name, epilog=epilog)(f)
        spec = click.Argument(["spec"], metavar=metavar, default="latest")
        command.params = [spec, OUTPUT, *command.params, TRUST]
        return command

    return wrap


def open_target(
    command: str,
    spec: str | None,
    output_dir: Path | None,
    echo: Echo | None,
    trusted: bool,
    adapter_for: str | bool = False,
) -> Target:
    """The folder RUN names, announced on `echo` (None: on stderr, so JSON on stdout stays
    parseable); refused unless a LoRA adapter when `adapter_for` says why (True: --base's)."""
    target = resolve(spec, output_dir)
    announce(target, echo)
    if adapter_for:
        target.require_adapter(BASE_NEEDS if adapter_for is True else str(adapter_for))
    guard_model_code(target, trusted, command)
    return target


def guard_model_code(target: Target, trusted: bool, command: str) -> None:
    """Before any child starts: the checkpoint and the local base model it names must not ship
    code, unless the user opted in (--trust-remote-code, or the run's recipe trusted it)."""
    trusted = trusted or target.manifest().recipe_resolved.trust_remote_code
    folders = [target.checkpoint]
    base = target.args().model
    if base and Path(base).is_dir():
        folders.append(Path(base))
    refuse_model_code(folders, trusted, command)
