"""One model load for the before and the after: one `swift deploy` child on a free loopback
port, the adapter under its identity's name and the base model under another id (verify,
`infer --compare/--base`, `chat --compare`; `serve` uses the same ids)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from swiftkit import defaults
from swiftkit.errors import SwiftkitError
from swiftkit.msswift import argv as helpers
from swiftkit.pipeline.resolve import Target
from swiftkit.serving.client import Endpoint
from swiftkit.serving.server import Deployed, free_port

Status = Callable[[str | None], None]
HOST = "127.0.0.1"  # never reachable from elsewhere: no API key needed


def model_id(text: str, default: str) -> str:
    """`text` with only the characters a model id keeps."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-") or default


def served_name(target: Target) -> str:
    """The adapter's model id: the identity's name as written ("Nova", not "nova"), else the
    folder's."""
    return model_id(str(target.manifest().identity.name or target.folder.name), "swiftkit")


def base_name(target: Target, adapter_id: str) -> str:
    """The base model's id: its folder or hub name ("Qwen2.5-7B-Instruct"), never the adapter's."""
    name = model_id(Path((target.args().model or "base").rstrip("/")).name, "base")
    return f"{name}-base" if name == adapter_id else name


@dataclass(frozen=True)
class Served:
    """A ready server: where it is, which id answers as what (base None: a full model)."""

    endpoint: Endpoint
    adapter: str
    base: str | None


@contextmanager
def one_load(
    target: Target, work: Path | None = None, status: Status | None = None
) -> Iterator[Served]:
    """Serve the checkpoint (and an adapter's base) for the block; its log in `work` or a temp."""
    say = status or (lambda _text: None)
    work = work or Path(tempfile.mkdtemp(prefix="swiftkit-ask-"))
    work.mkdir(parents=True, exist_ok=True)
    port, adapter_id = free_port(HOST), served_name(target)
    base_id = base_name(target, adapter_id) if target.adapter else None
    if base_id:
        batch = defaults.CONCURRENT_PROBES
        command = helpers.render_deploy_pair(
            target.checkpoint, HOST, port, adapter_id, base_id, max_batch_size=batch
        )
    else:
        command = helpers.render_deploy(target.checkpoint, HOST, port, adapter_id)
    log = work / "deploy.log"
    log.write_text(f"$ {command.shell()}\n", encoding="utf-8")
    say(f"loading the model: swift deploy {target.checkpoint} (log: {log})")
    with Deployed(command, log, HOST, port) as server:
        say(f"model loaded in {server.seconds:.0f} s")
        yield Served(Endpoint.of(server.url), adapter_id, base_id)


def require_base(target: Target) -> None:
    """--compare needs a LoRA adapter: a full (merged) model has no base beside it."""
    if not target.adapter:
        raise SwiftkitError.at(
            f"no base model to compare with: {target.checkpoint}",
            str(target.checkpoint),
            "a full model (merged, or trained without LoRA): its base is not separate from it",
            fix="pass the run folder or checkpoint-N of the LoRA run it was merged from",
        )
