"""Run a Command as a child in its own process group, output teed to a log, with the one
signal-and-stop policy every child gets: Ctrl-C or SIGTERM reach swiftkit only, which stops the
child with `stop`. Children start with SIGINT and SIGTERM at their defaults: one ignored by a
parent started with `cmd &` or nohup survives exec, and ms-swift would ignore the forwarded one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from swiftkit.errors import SwiftkitError, writing
from swiftkit.msswift.command import Command

TAIL_LINES = 40  # output lines kept for the failure message and the advice
GRACE = 10.0  # seconds between the steps of `stop`: SIGINT, SIGTERM, SIGKILL
OWN_ENV = "SWIFTKIT_"  # swiftkit's own variables (plugin settings, the serve key)


@dataclass
class Result:
    returncode: int
    interrupted: bool
    tail: list[str] = field(default_factory=list)
    seconds: float = 0.0
    log_error: OSError | None = None  # writing the log failed (a full disk): the run went on

    def failure(self, what: str, log: Path) -> SwiftkitError:
        """A failed helper command as the user sees it: exit code, output tail, the log."""
        tail = "\n".join(self.tail[-15:]) or "no output"
        return SwiftkitError.at(
            f"{what} (exit {self.returncode})", str(log), tail, fix=f"see the full log: {log}"
        )


def executable(name: str) -> str:
    """The console script next to this Python (the venv's), else one on PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if not found:
        raise SwiftkitError(f"'{name}' not found: ms-swift is not installed in this environment")
    return found


def default_signals() -> None:
    """Popen's preexec_fn (between fork and exec): an inherited SIG_IGN survives exec, so set
    SIGINT and SIGTERM back to their defaults. signal.signal is safe there."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def child_env(command: Command) -> dict[str, str]:
    """The user's environment, with the command's variables where the user set none (an
    exported CUDA_VISIBLE_DEVICES wins over a preset's). swiftkit's own always come from the
    command: a stale exported one would point the child at another run's settings or key."""
    env = dict(os.environ)
    for key, value in command.env.items():
        if key.startswith(OWN_ENV):
            env[key] = value
        else:
            env.setdefault(key, value)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def start(
    command: Command, output: IO[Any] | int | None, own_group: bool = True, stdin: int | None = None
) -> subprocess.Popen:
    """The child, stdin closed, in its own session; `own_group` False (a chat): on the terminal
    (its input `stdin` when given)."""
    argv = [executable(command.argv[0]), *command.argv[1:]]
    alone: dict[str, Any] = {"stdin": stdin}
    if own_group:
        alone = {"stdout": output, "stderr": subprocess.STDOUT, "stdin": subprocess.DEVNULL}
    return subprocess.Popen(
        argv,
        env=child_env(command),
        preexec_fn=default_signals,
        start_new_session=own_group,
        **alone,
    )


Handler = Callable[[int, Any], Any] | int | None


@contextlib.contextmanager
def on_signals(handler: Handler, sigint: Handler = None) -> Iterator[None]:
    """SIGTERM and SIGINT (or `sigint`) handled by `handler` in the block; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = {signal.SIGINT: handler if sigint is None else sigint, signal.SIGTERM: handler}
    old = {s: signal.signal(s, h) for s, h in wanted.items()}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def stoppable() -> contextlib.AbstractContextManager[None]:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt in the block, even with SIGINT ignored."""
    return on_signals(interrupt)


def stop(proc: subprocess.Popen, grace: float = GRACE, group: bool = True) -> int | None:
    """SIGINT to the child's process group (to the child alone, not `group`: a chat), SIGTERM
    `grace` seconds later, SIGKILL `grace` after that, then reaped. Ctrl-C or SIGTERM
    meanwhile skip to the next step, never cut the clean-up short. Idempotent."""
    hurry = threading.Event()

    def alive() -> bool:
        proc.poll()  # reap the leader: its zombie alone is not "alive"
        return group_alive(proc.pid) if group else proc.returncode is None

    with on_signals(lambda _signum, _frame: hurry.set()):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if not alive():
                break
            try:
                if group:
                    os.killpg(proc.pid, sig)
                else:
                    proc.send_signal(sig)
            except ProcessLookupError:
                break
            hurry.clear()
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and not hurry.is_set() and alive():
                time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    return proc.returncode


def run(
    command: Command, log_path: Path | None = None, on_tick: Callable[[], None] | None = None
) -> Result:
    """Run to completion: exit code, whether interrupted (the child stopped by `stop`), tail."""
    log = None
    if log_path:
        with writing(log_path):
            log = log_path.open("a", encoding="utf-8")
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    start_time = time.monotonic()
    proc = start(command, subprocess.PIPE)
    interrupted = threading.Event()
    log_error: list[OSError] = []

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            if log and not log_error:
                try:
                    log.write(line)
                    log.flush()
                except OSError as exc:  # a full disk: keep reading, or the child blocks
                    log_error.append(exc)
            # tqdm redraws with carriage returns; keep the last state of each line
            tail.append(line.rstrip("\n").split("\r")[-1])

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        with on_signals(lambda _signum, _frame: interrupted.set()):
            while proc.poll() is None and not interrupted.is_set():
                if on_tick:
                    on_tick()
                interrupted.wait(0.5)
        if interrupted.is_set():
            stop(proc)
        reader.join(timeout=5)
        if on_tick:
            on_tick()
    finally:
        stop(proc)  # an error in on_tick (records dropped): nothing is left running
        if log:
            try:
                log.close()
            except OSError as exc:  # the buffered rest did not fit either
                log_error.append(exc)
    seconds = time.monotonic() - start_time
    error = log_error[0] if log_error else None
    return Result(proc.returncode, interrupted.is_set(), list(tail), seconds, error)


class Background:
    """A long-running child (a server) in its own process group, output only to a log file."""

    def __init__(self, command: Command, log_path: Path):
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with writing(log_path):
            log = log_path.open("ab")
        with log:
            self.proc = start(command, log)
        self.pgid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> list[str]:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [t.split("\r")[-1] for t in text.splitlines()[-lines:]]

    def stop(self, grace: float = GRACE) -> int | None:
        return stop(self.proc, grace)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists (zombies of the reaped leader excluded)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user's
    return True


def feed_then_exit(pipe: IO[bytes]) -> None:
    """swiftkit's input (a file, a pipe, /dev/null under a script's `cmd &`) passed on, then
    `exit`: the chat ends at the end of input, not in ms-swift's EOFError traceback."""
    try:
        with pipe:
            while chunk := os.read(0, 65536):
                pipe.write(chunk)
                pipe.flush()
            pipe.write(b"\nexit\n")
    except OSError:  # the child has gone (it read `exit` itself), or there is no fd 0
        pass


def interactive(command: Command) -> int:
    """Run on the inherited terminal, for a chat: Ctrl-C reaches the child directly (the
    terminal signals the foreground group) and swiftkit ignores it; SIGTERM stops the child.
    Input that is not a terminal goes through feed_then_exit."""
    piped = not os.isatty(0)
    proc = start(command, None, own_group=False, stdin=subprocess.PIPE if piped else None)
    if piped:
        threading.Thread(target=feed_then_exit, args=(proc.stdin,), daemon=True).start()
    try:
        with on_signals(interrupt, sigint=signal.SIG_IGN):
            return proc.wait()
    finally:
        stop(proc, group=False)
