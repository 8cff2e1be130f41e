"""Run a Command as a child in its own process group: signals forwarded, output teed to a log.

The child gets its own session so a Ctrl-C in the terminal reaches swiftkit only; swiftkit
forwards it once (SIGINT: ms-swift stops, the checkpoints already saved stay), then escalates
to SIGTERM and SIGKILL if the user presses Ctrl-C again.

Every child starts with SIGINT and SIGTERM at their defaults (`default_signals`), whatever
swiftkit inherited: a parent started with `cmd &`, nohup or by CI has SIGINT *ignored*, an
ignored signal survives fork and exec, and Popen does not reset it (its restore_signals
covers SIGPIPE and SIGXFSZ only), so ms-swift would ignore the forwarded Ctrl-C and only the
escalation 40 s later would stop it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swiftkit.errors import Finding, SwiftkitError, writing
from swiftkit.msswift.command import Command

TAIL_LINES = 40  # output lines kept for the failure message and the advice


@dataclass
class Result:
    returncode: int
    interrupted: bool
    tail: list[str] = field(default_factory=list)
    seconds: float = 0.0
    log_error: OSError | None = None  # writing the log failed (a full disk): the run went on

    def failure(self, what: str, log: Path) -> SwiftkitError:
        """A failed helper command as the user sees it: exit code, output tail, the log."""
        return SwiftkitError(
            f"{what} (exit {self.returncode})",
            [
                Finding.error(
                    str(log),
                    "\n".join(self.tail[-15:]) or "no output",
                    fix=f"see the full log: {log}",
                )
            ],
        )


def executable(name: str) -> str:
    """The console script next to this Python (the venv's), else one on PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if not found:
        raise SwiftkitError(
            f"'{name}' not found: ms-swift is not installed in this environment",
            [],
        )
    return found


def default_signals() -> None:
    """Popen's preexec_fn: runs in the child between fork and exec and sets SIGINT and SIGTERM
    back to their defaults (see the module's docstring). A handler swiftkit installed is reset
    by exec anyway; an inherited SIG_IGN is not, hence this. Calls only signal.signal, which
    is safe there (CPython re-initialises its thread state for preexec_fn)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


OWN_ENV = "SWIFTKIT_"  # swiftkit's own variables (plugin settings, the serve key)


def child_env(command: Command) -> dict[str, str]:
    """The child's environment: the user's, with the command's variables where the user set
    none (so an exported CUDA_VISIBLE_DEVICES wins over a preset's). swiftkit's own variables
    are the exception: they always come from this command, because a stale one exported in the
    shell (an old SWIFTKIT_STOP_CONFIG, a SWIFTKIT_SERVE_API_KEY) would silently point the
    child at another run's settings or guard the server with a key the user did not give."""
    env = dict(os.environ)
    for key, value in command.env.items():
        if key.startswith(OWN_ENV):
            env[key] = value
        else:
            env.setdefault(key, value)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def run(
    command: Command,
    log_path: Path | None = None,
    on_tick: Callable[[], None] | None = None,
) -> Result:
    """Run to completion; returns the exit code, whether the user interrupted, the output tail."""
    argv = [executable(command.argv[0]), *command.argv[1:]]
    log = None
    if log_path:
        with writing(log_path):
            log = log_path.open("a", encoding="utf-8")
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        env=child_env(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=default_signals,
    )
    interrupts = {"n": 0}
    log_error: list[OSError] = []

    def forward(signum, _frame):
        interrupts["n"] += 1
        sig = {1: signum, 2: signal.SIGTERM}.get(interrupts["n"], signal.SIGKILL)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def pump():
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
            text = line.rstrip("\n").split("\r")[-1]
            tail.append(text)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    in_main = threading.current_thread() is threading.main_thread()
    old = {}
    if in_main:
        for s in (signal.SIGINT, signal.SIGTERM):
            old[s] = signal.signal(s, forward)
    try:
        while proc.poll() is None:
            if on_tick:
                on_tick()
            time.sleep(0.5)
        reader.join(timeout=5)
        if on_tick:
            on_tick()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for s, h in old.items():
            signal.signal(s, h)
        if log:
            try:
                log.close()
            except OSError as exc:  # the buffered rest did not fit either
                log_error.append(exc)
    seconds = time.monotonic() - start
    error = log_error[0] if log_error else None
    return Result(proc.returncode, interrupts["n"] > 0, list(tail), seconds, error)


class Background:
    """A long-running child (a server) in its own process group, output only to a log file."""

    def __init__(self, command: Command, log_path: Path):
        self.command = command
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [executable(command.argv[0]), *command.argv[1:]]
        with writing(log_path):
            log = log_path.open("ab")
        with log:
            self.proc = subprocess.Popen(
                argv,
                env=child_env(command),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=default_signals,
            )
        self.pgid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> list[str]:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [t.split("\r")[-1] for t in text.splitlines()[-lines:]]

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGINT the whole group, then SIGTERM, then SIGKILL; reap the child. Idempotent."""
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if not group_alive(self.pgid) and self.proc.poll() is not None:
                break
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and group_alive(self.pgid):
                self.proc.poll()
                time.sleep(0.1)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        return self.proc.returncode


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists (zombies of the reaped leader excluded)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def interactive(command: Command) -> int:
    """Run with the terminal inherited (stdin/stdout), for a chat: Ctrl-C goes to the child
    directly, the parent ignores it and waits."""
    argv = [executable(command.argv[0]), *command.argv[1:]]
    proc = subprocess.Popen(argv, env=child_env(command), preexec_fn=default_signals)
    in_main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
    try:
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if in_main:
            signal.signal(signal.SIGINT, old)
