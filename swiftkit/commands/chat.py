"""`swiftkit chat [RUN]`: the blog's interactive `swift infer`, without pasting a path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from swiftkit.child import launch
from swiftkit.commands import guard_model_code
from swiftkit.render import helpers
from swiftkit.runs.resolve import announce, resolve

Echo = Callable[[str], None]


def execute(
    spec: str | None,
    output_dir: Path | None,
    echo: Echo,
    base: bool = False,
    trust_remote_code: bool = False,
) -> int:
    target = resolve(spec, output_dir)
    announce(target, echo)
    guard_model_code(target, trust_remote_code, "chat")
    if base:
        target.require_adapter("--base reads the base model from the adapter's args.json")
    command = helpers.render_chat(target.checkpoint, base=base)
    who = "the base model (before training)" if base else str(target.checkpoint)
    echo(f"chat with {who}")
    echo(f"command: {command.shell()}")
    return launch.interactive(command)
