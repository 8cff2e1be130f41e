"""Live progress of a run: training steps from ms-swift's logging.jsonl, then a status line
(verify's phases). On a terminal (stderr a tty) a rich display redrawn in place; anywhere else
one plain line per logging row or status. rich is imported only for a terminal display."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from swiftkit.errors import Echo
from swiftkit.msswift.events import LogTail, Step

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID
    from rich.status import Status


class Progress(contextlib.AbstractContextManager["Progress"]):
    """Plain lines through `echo` (`Live` redraws them on a terminal); closed even on a raise."""

    def __init__(self, log: Path, echo: Echo, resume: bool = False):
        self.tail = LogTail(log)
        self._echo = echo
        # on resume the rows already logged belong to the earlier attempt: keep only the last
        earlier: list[Step | None] = [None, *self.tail.new_steps()] if resume else [None]
        self.last = earlier[-1]

    def tick(self) -> None:
        for step in self.tail.new_steps():
            self.last = step
            self.show(step)

    def show(self, step: Step) -> None:
        self.echo("  " + step.line())

    def echo(self, text: str) -> None:  # a line of the command's own output (stdout)
        self._echo(text)

    def status(self, text: str | None) -> None:
        if text:
            self.echo(text)

    def end_training(self) -> None:
        """Training is over: its last state stays, what follows prints below it."""

    def close(self) -> None:
        """Stop redrawing; the last training state stays on the screen, a status goes."""

    def __exit__(self, *exc: object) -> None:
        self.close()


class Live(Progress):
    def __init__(
        self,
        log: Path,
        echo: Echo,
        resume: bool = False,
        console: Console | None = None,
        stdout_is_terminal: bool = True,
    ):
        super().__init__(log, echo, resume)
        from rich.console import Console
        from rich.progress import BarColumn, SpinnerColumn, TextColumn
        from rich.progress import Progress as Display

        self.display = Display(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[stats]}"),
            console=console or Console(stderr=True),
            auto_refresh=False,
            redirect_stdout=False,  # click writes past rich's proxy: `echo` places the lines
        )
        self.above = stdout_is_terminal
        self.training = self.display.add_task("starting ms-swift", total=None, stats="")
        self.phase: TaskID | None = None
        self.spinner: Status | None = None
        self.display.start()
        if self.last is not None:
            self.show(self.last)
        self.display.refresh()

    def tick(self) -> None:
        super().tick()
        self.display.refresh()  # the spinner turns, the status stays current

    def show(self, step: Step) -> None:
        self.display.update(
            self.training,
            description=f"step {step.step}/{step.max_steps}",
            completed=step.step,
            total=step.max_steps,
            stats="  ".join(step.stats()),
        )

    def echo(self, text: str) -> None:
        """Above the display when stdout is the same terminal; straight out when it is not."""
        if self.above and self.display.live.is_started:
            self.display.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self._echo(text)

    def status(self, text: str | None) -> None:
        if not self.display.live.is_started:  # after training: a spinner of its own, which
            if self.spinner is not None:  # turns while a phase blocks (verify's model load)
                self.spinner.stop()
                self.spinner = None
            if text:
                self.spinner = self.display.console.status(text)
                self.spinner.start()
            return
        if self.phase is not None:
            self.display.remove_task(self.phase)
            self.phase = None
        if text:
            self.phase = self.display.add_task(text, total=None, stats="")
        self.display.refresh()

    def end_training(self) -> None:
        if self.display.live.is_started:
            self.status(None)
            self.display.stop()

    def close(self) -> None:
        self.end_training()
        self.status(None)


def start(log: Path, echo: Echo, resume: bool = False) -> Progress:
    if sys.stderr.isatty():
        return Live(log, echo, resume, stdout_is_terminal=sys.stdout.isatty())
    return Progress(log, echo, resume)


class StatusLine(contextlib.AbstractContextManager["StatusLine"]):
    """A phase without steps: a spinner line on a terminal, else a plain line; None clears it."""

    def __init__(self, echo: Echo, terminal: bool | None = None):
        self._echo = echo
        self.spinner: Status | None = None
        if sys.stderr.isatty() if terminal is None else terminal:
            from rich.console import Console

            self.spinner = Console(stderr=True).status("")

    def __call__(self, text: str | None) -> None:
        if self.spinner is None:
            if text:
                self._echo(text)
        elif text:
            self.spinner.update(text)
            self.spinner.start()
        else:
            self.spinner.stop()

    def __exit__(self, *exc: object) -> None:
        if self.spinner is not None:
            self.spinner.stop()
