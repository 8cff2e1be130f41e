"""`swiftkit serve [RUN]`: an OpenAI-compatible API through `swift deploy`, on loopback by
default; ready only once `/v1/models` answers; stopped with its whole process group
(launch.stop)."""

from __future__ import annotations

import errno
import ipaddress
import json
import shlex
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from swiftkit import defaults
from swiftkit.commands import open_target, target_command, usage
from swiftkit.errors import Echo, Finding, SwiftkitError
from swiftkit.msswift import argv as helpers
from swiftkit.msswift.command import Command, shell_line
from swiftkit.pipeline import launch
from swiftkit.resources import DEPLOY_AUTH_PLUGIN
from swiftkit.serving.client import check_key
from swiftkit.serving.pair import base_name, served_name
from swiftkit.serving.server import Deployed


def check_port(host: str, port: int) -> None:
    """Refuse a port in use. ms-swift itself silently moves to the next free port, so bind
    the way it does (all interfaces) as well as on the host asked for."""
    for addr in dict.fromkeys([host, ""]):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((addr, port))
            except OSError as exc:
                if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
                    raise SwiftkitError.at(
                        f"cannot serve on --host {host!r}",
                        f"{host}:{port}",
                        f"not an address of this machine: {exc.strerror or exc}",
                        fix="pass an IP address this machine has, or a name it resolves "
                        "(127.0.0.1 for this machine only, 0.0.0.0 for every interface)",
                    ) from None
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


KEY_ENV = "SWIFTKIT_API_KEY"
SERVE_KEY_ENV = "SWIFTKIT_SERVE_API_KEY"  # how the key reaches msswift/plugins/deploy_auth.py


def loopback(host: str) -> bool:
    """Only this machine can reach `host` (ms-swift's own test: 127.0.0.1, localhost, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def with_key(command: Command, key: str, shown: str) -> tuple[Command, str]:
    """The command with the key in its environment (never on its command line, which ms-swift
    logs and `ps` shows), read by the plugin that also answers a wrong key 401; the printed
    line shows `shown` in the key's place."""
    argv = helpers.add_plugin(command.argv, DEPLOY_AUTH_PLUGIN)
    line = f"{SERVE_KEY_ENV}={shown} {Command(argv, command.env).shell()}"
    return Command(argv, {**command.env, SERVE_KEY_ENV: key}), line


def curl_line(base_url: str, model: str, auth: str = "") -> str:
    """A request that runs when pasted into a shell (the JSON quoted for sh, whatever the id
    holds); `auth`: an -H option already quoted for the shell."""
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "你是谁?"}],
            "temperature": 0,
            "max_tokens": 256,  # a base model may ramble on to its context length
        },
        ensure_ascii=False,
    )
    head = shell_line("curl", "-s", f"{base_url}/chat/completions")
    return f"{head} -H 'Content-Type: application/json'{auth} -d {shlex.quote(body)}"


def execute(
    spec: str | None,
    output_dir: Path | None,
    echo: Echo,
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str | None = None,
    timeout: float = defaults.TIMEOUT_S,
    base: bool = False,
    api_key: str | None = None,
    key_from_env: bool = False,
    trust_remote_code: bool = False,
) -> int:
    """Serve until Ctrl-C. With `api_key`, every request but /v1/models and /health needs
    `Authorization: Bearer KEY`; printed lines show it as $SWIFTKIT_API_KEY when it came from
    that variable (so they run when pasted there), else as given."""
    target = open_target("serve", spec, output_dir, echo, trust_remote_code, base)
    check_port(host, port)
    model = name or served_name(target)
    base_id = None if base or not target.adapter else base_name(target, model)
    if base_id is not None:  # one model load answers for both: compare them from any client
        command = helpers.render_deploy_pair(target.checkpoint, host, port, model, base_id)
    else:
        command = helpers.render_deploy(target.checkpoint, host, port, model, base=base)
    shown = f'"${KEY_ENV}"' if key_from_env else shlex.quote(api_key or "")
    line = command.shell()
    if api_key:
        command, line = with_key(command, api_key, shown)
    elif not loopback(host):
        warning = Finding.warning(
            f"{host}:{port}",
            f"serving on {host} without an API key: anyone who can reach port {port} can use "
            "the model (and have the server fetch media URLs for them)",
            fix=f"pass --api-key KEY (or set ${KEY_ENV}), or serve on --host 127.0.0.1",
        )
        echo(warning.format())
    logs = target.run_dir if target.run_dir else Path(tempfile.mkdtemp(prefix="swiftkit-serve-"))
    log = logs / f"serve-{port}.log"
    echo(f"serving {target.checkpoint}")
    echo(f"command: {line}")
    echo(f"log: {log}")
    try:
        with launch.stoppable(), Deployed(command, log, host, port, timeout, say=echo) as server:
            base_url = f"http://{host}:{port}/v1"
            ids = ", ".join(server.ids)
            echo(f"ready in {server.seconds:.0f} s: {base_url}  (model ids: {ids})")
            echo(f"model id {model}: {'the base model' if base else 'the trained model'}")
            if base_id:
                echo(f"model id {base_id}: the base model (before training), for comparison")
            echo("try it:")
            auth = ""
            if key_from_env:
                auth = f' -H "Authorization: Bearer ${KEY_ENV}"'
            elif api_key:
                auth = " -H " + shlex.quote(f"Authorization: Bearer {api_key}")
            for served in [model] + ([base_id] if base_id else []):
                echo(f"  {curl_line(base_url, served, auth)}")
            echo("Ctrl-C stops the server.")
            child = server.server
            assert child is not None
            while child.alive():
                time.sleep(0.5)
            raise SwiftkitError(
                f"swift deploy exited with code {child.proc.returncode}",
                [Finding.error(str(log), "\n".join(child.tail(20)) or "no output")],
            )
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the server is stopped, as asked
        return 0


@target_command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--name", help="Model id clients send (default: the identity's name).")
@click.option(
    "--timeout", default=defaults.TIMEOUT_S, show_default=True, help="Seconds to wait for start-up."
)
@click.option("--base", is_flag=True, help="Serve the untouched base model instead.")
@click.option(
    "--api-key",
    envvar=KEY_ENV,
    callback=lambda c, p, v: usage(check_key, v),
    help="Require `Authorization: Bearer KEY` on every request (default $SWIFTKIT_API_KEY).",
)
def serve_command(**options: Any) -> int:
    """Serve an OpenAI-compatible API (`swift deploy`) until Ctrl-C."""
    source = click.get_current_context().get_parameter_source("api_key")
    key = options.pop("api_key") or None
    from_env = bool(key) and source == click.core.ParameterSource.ENVIRONMENT
    return execute(echo=click.echo, api_key=key, key_from_env=from_env, **options)
