"""A command swiftkit runs: argv and environment, printable as one copy-pasteable shell line."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def shell(self) -> str:
        """One line for sh/bash: environment assignments first, every value quoted."""
        env = [f"{k}={shlex.quote(v)}" for k, v in self.env.items()]
        return " ".join([*env, *map(shlex.quote, self.argv)])

    def to_json(self) -> str:
        return json.dumps({"argv": self.argv, "env": self.env}, ensure_ascii=False, indent=2)


def format_value(value: object) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [v for item in value for v in format_value(item)]
    if isinstance(value, float):
        return [repr(value)]
    return [str(value)]


def option(name: str) -> str:
    """An ms-swift flag on its command line: `lora_rank` -> `--lora_rank`."""
    return f"--{name}"


def argv_from_flags(subcommand: str, flags: dict) -> list[str]:
    """`--key value ...`; a single value that starts with '-' (a name "-Nova", a system prompt
    "--help") as `--key=-Nova`, which argparse reads as the value, not as another flag."""
    argv = ["swift", subcommand]
    for key, value in flags.items():
        values = format_value(value)
        one = len(values) == 1 and values[0].startswith("-")
        argv += [f"{option(key)}={values[0]}"] if one else [option(key), *values]
    return argv


def shell_line(*argv: str | Path) -> str:
    """One command as a line a user can paste into sh/bash (paths with spaces quoted)."""
    return Command([str(a) for a in argv]).shell()
