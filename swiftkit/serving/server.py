"""`swift deploy` as a child (verify, `infer`, `chat --compare`, `serve`) in its own process
group: ready once `/v1/models` answers (its log's tail if it dies first), stopped with its
whole group. It serves the base model and the adapter (ms-swift disables the LoRA for one id)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swiftkit import defaults
from swiftkit.errors import Finding, SwiftkitError
from swiftkit.msswift.command import Command
from swiftkit.pipeline import launch
from swiftkit.serving.client import Endpoint


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (ms-swift itself moves on to the next if it is taken)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_error(server: launch.Background, message: str, fix: str) -> SwiftkitError:
    """The server's failure as the user sees it: what happened, its log's tail, the fix."""
    tail = "\n".join(server.tail(20)) or "no output"
    return SwiftkitError(message, [Finding.error(str(server.log_path), tail, fix=fix)])


def wait_ready(server: launch.Background, url: str, timeout: float) -> list[str]:
    """Poll /v1/models at `url` until it answers with the served ids, unless the child dies."""
    endpoint = Endpoint(Endpoint.of(url).url, timeout=2.0, retries=0)
    client = endpoint.client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise log_error(
                server,
                f"swift deploy exited (code {server.proc.returncode}) before it answered",
                f"see the full log: {server.log_path}",
            )
        try:
            return endpoint.models(client)
        except SwiftkitError:  # not listening yet, or not answering yet
            time.sleep(0.2)
    raise log_error(
        server,
        f"swift deploy did not answer {endpoint.url}/models within {timeout:.0f} s",
        "raise --timeout (a 7B model loads slowly), or read the log",
    )


@dataclass
class Deployed:
    """`with Deployed(command, log, host, port) as server:` a ready server (its ids and /v1
    url), stopped on leaving (a 1 s grace when by an exception: Ctrl-C, SIGTERM, an error).
    `say`: where to tell the user its pid and that it stopped (serve)."""

    command: Command
    log: Path
    host: str
    port: int
    timeout: float = defaults.TIMEOUT_S
    say: Callable[[str], None] | None = None
    server: launch.Background | None = field(default=None, init=False)
    ids: list[str] = field(default_factory=list, init=False)
    seconds: float = field(default=0.0, init=False)

    @property
    def url(self) -> str:  # asked on loopback when the server listens on every interface
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/v1"

    def __enter__(self) -> Deployed:
        start = time.monotonic()
        self.server = launch.Background(self.command, self.log)
        try:  # from here on, whatever stops the entry (a signal right now) stops the child
            if self.say:
                self.say(f"server pid {self.server.pgid} (its own process group)")
            self.ids = wait_ready(self.server, self.url, self.timeout)
        except BaseException as exc:
            self.__exit__(type(exc))
            raise
        self.seconds = time.monotonic() - start
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self.server is None:
            return
        if self.say and kind is not None and issubclass(kind, KeyboardInterrupt):
            self.say("stopping the server")
        self.server.stop(grace=5.0 if kind is None else 1.0)
        if self.say:
            left = "STILL ALIVE" if launch.group_alive(self.server.pgid) else "gone"
            self.say(f"server stopped (process group {self.server.pgid} {left})")
