"""`swift deploy` as a child: started in its own process group, ready once `/v1/models`
answers (its log's tail if it dies first), stopped with its whole group.

verify, `infer`, `chat --compare` and `serve` all use it: one model load that answers for the
base model and for the adapter under two model ids (ms-swift keeps the LoRA apart and asks
the base with the adapter disabled), asked through verify/client.py like any other server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from swiftkit import defaults
from swiftkit.errors import Finding, SwiftkitError
from swiftkit.msswift.command import Command
from swiftkit.pipeline import launch


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (ms-swift itself moves on to the next if it is taken)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def models_url(host: str, port: int) -> str:
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{probe}:{port}/v1/models"


def log_error(server: launch.Background, message: str, fix: str) -> SwiftkitError:
    """The server's failure as the user sees it: what happened, its log's tail, the fix."""
    tail = "\n".join(server.tail(20)) or "no output"
    return SwiftkitError(message, [Finding.error(str(server.log_path), tail, fix=fix)])


def wait_ready(server: launch.Background, url: str, timeout: float) -> list[str]:
    """Poll /v1/models until it answers with the served ids; fail if the child dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise log_error(
                server,
                f"swift deploy exited (code {server.proc.returncode}) before it answered",
                f"see the full log: {server.log_path}",
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                data = json.loads(resp.read().decode("utf-8"))
            return [m.get("id") for m in data.get("data", [])]
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.2)
    raise log_error(
        server,
        f"swift deploy did not answer {url} within {timeout:.0f} s",
        "raise --timeout (a 7B model loads slowly), or read the log",
    )


def stop_now(server: launch.Background, grace: float = 1.0) -> None:
    """Stop at once (the user asked to): SIGINT to the group, SIGKILL after `grace` seconds.
    A server keeps nothing worth a longer wait."""
    try:
        os.killpg(server.pgid, signal.SIGINT)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and launch.group_alive(server.pgid):
        server.proc.poll()
        time.sleep(0.05)
    if launch.group_alive(server.pgid):
        try:
            os.killpg(server.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.proc.wait()


class Deployed:
    """`with Deployed(command, log, host, port) as server:` a ready server (server.ids, the
    model ids it serves; server.url, its /v1 base URL); stopped on leaving, at once when
    leaving by an exception (Ctrl-C, SIGTERM, an error)."""

    def __init__(
        self, command: Command, log: Path, host: str, port: int, timeout: float = defaults.TIMEOUT_S
    ):
        self.command, self.log, self.host, self.port = command, log, host, port
        self.timeout = timeout
        self.server: launch.Background | None = None
        self.ids: list[str] = []
        self.seconds = 0.0

    @property
    def url(self) -> str:
        return models_url(self.host, self.port).removesuffix("/models")

    def __enter__(self) -> Deployed:
        start = time.monotonic()
        self.server = launch.Background(self.command, self.log)
        try:
            self.ids = wait_ready(self.server, models_url(self.host, self.port), self.timeout)
        except BaseException:
            stop_now(self.server)
            raise
        self.seconds = time.monotonic() - start
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.server is None:
            return
        held = {}
        if threading.current_thread() is threading.main_thread():
            # a second Ctrl-C must not cut the clean-up short and leave the child behind
            held = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            stop_now(self.server, grace=5.0 if kind is None else 1.0)
        finally:
            for s, handler in held.items():
                signal.signal(s, handler)


@contextmanager
def stoppable() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt here (whatever the parent inherited, even
    "SIGINT ignored" from a script's `cmd &`), so the `with Deployed(...)` around the work
    stops the child at once and the command exits 130."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
