"""The `swiftkit` command group and its exit codes; each command is defined in its module under
swiftkit/commands/, imported only when it runs (so `swiftkit --help` stays light).

Exit codes: 0 ok, 1 a problem with the input or the run (explained, no traceback),
2 a usage error, 3 a bug in swiftkit (one line; the traceback goes to a log file),
130 interrupted.
"""

from __future__ import annotations

import importlib
import signal
import threading
import traceback
from datetime import datetime

import click

from swiftkit import __version__
from swiftkit.errors import SwiftkitError

# name -> (its module under swiftkit/commands/, the summary `--help` lists); the module
# defines NAME_command (tests/test_cli.py holds each summary to the start of its help).
COMMANDS = {
    "chat": ("chat", "Chat interactively with a trained adapter"),
    "doctor": ("doctor", "Show this machine (GPUs, CUDA, versions)"),
    "export": ("export", "Merge the adapter into a full model folder"),
    "flags": ("flags", "List the installed ms-swift's `swift sft` flags"),
    "infer": ("infer", "Answer questions without a chat session"),
    "init": ("init", "Start here: write a ready-to-run recipe"),
    "presets": ("doctor", "List the hardware presets a recipe can name"),
    "recipes": ("recipes", "List the shipped recipes, or copy one out"),
    "render": ("run", "Print the exact `swift sft` command a recipe runs"),
    "run": ("run", "Train with a recipe: validate, launch `swift sft`"),
    "runs": ("runs", "List every run, newest first"),
    "schema": ("validate", "Print a JSON schema"),
    "serve": ("serve", "Serve an OpenAI-compatible API (`swift deploy`)"),
    "tiny-model": ("run", "Build the tiny random-weight Qwen2 model"),
    "validate": ("validate", "Check recipes (.toml) and datasets (.json, .jsonl)"),
    "verify": ("verify", "Ask the identity (and general) probes"),
}


class Commands(click.Group):
    """The group of COMMANDS: `swiftkit NAME` imports NAME's module; `--help` imports none."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"swiftkit.commands.{COMMANDS[cmd_name][0]}")
        command: click.Command = getattr(module, cmd_name.replace("-", "_") + "_command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="swiftkit")
def cli() -> None:
    """Give an open LLM a new identity with an ms-swift LoRA run: checked before the GPU
    spins up, watched while it trains, verified after."""


def react_to_sigint() -> None:
    """A process started with `cmd &`, nohup or by some CI runners inherits SIGINT ignored,
    and Python then leaves it ignored (it installs its KeyboardInterrupt handler only over
    the default): one Ctrl-C or `kill -INT` would do nothing. Install it explicitly."""
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def report_bug(exc: BaseException) -> int:
    """An exception swiftkit did not expect: one line on stderr, the traceback in a log file
    under the user's state folder (else the temp folder), exit 3 (as pre-commit does)."""
    import tempfile
    from pathlib import Path

    from swiftkit.resources import user_folder

    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    name = f"bug-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.log"
    where = "(no log file could be written)"
    for folder_of in (lambda: user_folder("state"), tempfile.gettempdir):
        try:  # the state folder may be unwritable, or $HOME unknown (RuntimeError)
            folder = Path(folder_of())
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(f"swiftkit {__version__}\n{trace}", encoding="utf-8")
        except (OSError, RuntimeError):
            continue
        where = str(folder / name)
        break
    text = str(exc).strip()
    what = type(exc).__name__ + (f": {text.splitlines()[0]}" if text else "")
    click.echo(f"swiftkit bug: {what}, details in {where}", err=True)
    return 3


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (tests call this directly)."""
    react_to_sigint()
    try:
        code = cli.main(args=argv, prog_name="swiftkit", standalone_mode=False)
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
    except OSError as exc:
        from swiftkit.errors import FULL, write_failed

        if exc.errno not in FULL:
            return report_bug(exc)
        # a write site that names no path itself: the error's own filename, when it has one
        where = exc.filename or "(a file swiftkit was writing)"
        click.echo(write_failed(where, exc).format(), err=True)
        return 1
    except Exception as exc:
        return report_bug(exc)
    return code if isinstance(code, int) else 0
