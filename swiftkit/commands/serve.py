"""`swiftkit serve [RUN]`: an OpenAI-compatible API through `swift deploy`, on loopback by
default; ready only once `/v1/models` answers; stopped with its whole process group."""

from __future__ import annotations

import errno
import json
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from swiftkit.child import launch
from swiftkit.child.server import models_url, wait_ready
from swiftkit.errors import Finding, SwiftkitError
from swiftkit.render import helpers
from swiftkit.render.command import shell_line
from swiftkit.runs.resolve import resolve
from swiftkit.verify.pair import base_name, served_name

Echo = Callable[[str], None]


class Stop(Exception):
    """SIGTERM (or SIGINT) while serving: stop the server and return."""


def check_port(host: str, port: int) -> None:
    """Refuse a port in use. ms-swift itself silently moves to the next free port, so bind
    the way it does (all interfaces) as well as on the host asked for."""
    for addr in dict.fromkeys([host, ""]):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((addr, port))
            except OSError as exc:
                why = "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
                raise SwiftkitError(
                    f"port {port} is {why} on {addr or 'some interface'}",
                    [
                        Finding.error(
                            f"{host}:{port}",
                            f"cannot bind port {port}: {why}",
                            fix="choose another --port, or stop what is listening there "
                            f"(`ss -ltnp | grep :{port}`)",
                        )
                    ],
                ) from None


def curl_line(base_url: str, model: str) -> str:
    """A request a user can paste into a shell (the JSON quoted for sh, whatever it holds)."""
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": "你是谁?"}], "temperature": 0},
        ensure_ascii=False,
    )
    return shell_line(
        "curl",
        "-s",
        f"{base_url}/chat/completions",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
    )


def execute(
    spec: str | None,
    output_dir: Path | None,
    echo: Echo,
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str | None = None,
    timeout: float = 600,
    base: bool = False,
) -> int:
    target = resolve(spec, output_dir)
    if base:
        target.require_adapter("--base reads the base model from the adapter's args.json")
    check_port(host, port)
    model = name or served_name(target)
    base_id = None if base or not target.adapter else base_name(target, model)
    if base_id is not None:  # one model load answers for both: compare them from any client
        command = helpers.render_deploy_pair(target.checkpoint, host, port, model, base_id)
    else:
        command = helpers.render_deploy(target.checkpoint, host, port, model, base=base)
    logs = target.run_dir if target.run_dir else Path(tempfile.mkdtemp(prefix="swiftkit-serve-"))
    log = logs / f"serve-{port}.log"
    echo(f"serving {target.checkpoint}")
    echo(f"command: {command.shell()}")
    echo(f"log: {log}")

    def on_signal(signum, _frame):
        raise Stop(signal.Signals(signum).name)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    server = None
    start = time.monotonic()
    try:
        server = launch.Background(command, log)
        echo(f"server pid {server.pgid} (its own process group)")
        ids = wait_ready(server, models_url(host, port), timeout)
        base_url = f"http://{host}:{port}/v1"
        echo(
            f"ready in {time.monotonic() - start:.0f} s: {base_url}  (model ids: {', '.join(ids)})"
        )
        echo(f"model id {model}: {'the base model' if base else 'the trained model'}")
        if base_id:
            echo(f"model id {base_id}: the base model (before training), for comparison")
        echo("try it:")
        for served in [model] + ([base_id] if base_id else []):
            echo(f"  {curl_line(base_url, served)}")
        echo("Ctrl-C stops the server.")
        while server.alive():
            time.sleep(0.5)
        raise SwiftkitError(
            f"swift deploy exited with code {server.proc.returncode}",
            [Finding.error(str(log), "\n".join(server.tail(20)) or "no output")],
        )
    except (Stop, KeyboardInterrupt):
        echo("stopping the server")
        return 0
    finally:
        # a second Ctrl-C must not cut the clean-up short
        for s in old:
            signal.signal(s, signal.SIG_IGN)
        if server is not None:
            server.stop()
            gone = not launch.group_alive(server.pgid)
            echo(
                f"server stopped (process group {server.pgid} {'gone' if gone else 'STILL ALIVE'})"
            )
        for s, h in old.items():
            signal.signal(s, h)
