"""`swiftkit chat [RUN]`: the blog's interactive `swift infer`, without pasting a path;
`--compare` asks each question of the base model and of the adapter, side by side, from one
model load (the `swift deploy` child verify uses)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from swiftkit import defaults
from swiftkit.commands import open_target, target_command
from swiftkit.errors import Echo
from swiftkit.msswift import argv as helpers
from swiftkit.pipeline import launch
from swiftkit.pipeline.resolve import Target
from swiftkit.serving.client import ask_all
from swiftkit.serving.pair import one_load, require_base

QUIT = ("exit", "quit", ":q")


def execute(
    spec: str | None,
    output_dir: Path | None,
    echo: Echo,
    base: bool = False,
    compare: bool = False,
    read: Callable[[str], str] | None = None,
    trust_remote_code: bool = False,
) -> int:
    target = open_target("chat", spec, output_dir, echo, trust_remote_code, base)
    if compare:
        return side_by_side(target, echo, read or click.prompt)
    command = helpers.render_chat(target.checkpoint, base=base)
    who = "the base model (before training)" if base else str(target.checkpoint)
    echo(f"chat with {who}")
    echo(f"command: {command.shell()}")
    return launch.interactive(command)


def side_by_side(target: Target, echo: Echo, read: Callable[[str], str]) -> int:
    """Each question to both models, each keeping its own conversation; ends at end of input,
    `exit` or Ctrl-C."""
    require_base(target)
    work = target.run_dir / "chat" if target.run_dir else None
    history: dict[str, list[dict[str, Any]]] = {}
    with launch.stoppable(), one_load(target, work, lambda t: echo(t) if t else None) as served:
        assert served.base is not None
        sides = {
            f"base ({served.base})": served.base,
            f"adapter ({served.adapter})": served.adapter,
        }
        echo(f"comparing the base model and {target.checkpoint}; `exit` or Ctrl-D ends")
        while True:
            try:
                question = read("you").strip()
            except (EOFError, click.exceptions.Abort):
                return 0
            if question in QUIT:
                return 0
            if not question:
                continue
            for label, model in sides.items():
                turns = history.setdefault(model, [])
                turns.append({"role": "user", "content": question})
                (answer,) = ask_all(served.endpoint, model, [turns], defaults.CHAT_MAX_NEW_TOKENS)
                turns.append({"role": "assistant", "content": answer.text})
                echo(f"{label}: {answer.text}")


@target_command("chat")
@click.option("--base", is_flag=True, help="Chat with the untouched base model (the before).")
@click.option(
    "--compare", is_flag=True, help="Each question to the base model and the adapter, side by side."
)
def chat_command(**options: Any) -> int:
    """Chat interactively with a trained adapter (`swift infer --stream true`)."""
    if options["base"] and options["compare"]:
        raise click.UsageError("--base or --compare, not both")
    return execute(echo=click.echo, **options)
