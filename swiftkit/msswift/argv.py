"""The commands after training (chat, export --merge, deploy) and the edits swiftkit makes to
an argv (one more plugin, a resume). ms-swift reads the base model, template and system prompt
from a checkpoint's args.json.
"""

from __future__ import annotations

from pathlib import Path

from swiftkit import defaults
from swiftkit.errors import SwiftkitError
from swiftkit.msswift.args import CheckpointArgs, args_path
from swiftkit.msswift.command import Command, argv_from_flags, shell_line
from swiftkit.resources import SERVE_PLUGIN


def source_flags(checkpoint: Path, base: bool = False) -> dict[str, object]:
    """What to load: `--adapters CKPT` for a LoRA checkpoint, `--model DIR` for a full (merged)
    model, or with `base=True` the untouched base model, template and system from args.json."""
    if base:
        args = CheckpointArgs.read(checkpoint)
        if args.model is None:
            raise SwiftkitError.at(
                f"cannot tell the base model of {checkpoint}",
                str(args_path(checkpoint)),
                "missing or without 'model': it names the base model",
                fix="pass a checkpoint written by `swift sft` (checkpoint-N)",
            )
        flags = {k: getattr(args, k) for k in ("model", "model_type", "template", "system")}
        return {k: v for k, v in flags.items() if v is not None}
    if (checkpoint / "adapter_config.json").is_file():
        return {"adapters": str(checkpoint)}
    return {"model": str(checkpoint)}


def render_chat(checkpoint: Path, base: bool = False) -> Command:
    """The blog's interactive chat line, on a resolved checkpoint instead of a pasted path."""
    flags = source_flags(checkpoint, base)
    flags.update(stream=True, temperature=0, max_new_tokens=defaults.CHAT_MAX_NEW_TOKENS)
    return Command(argv_from_flags("infer", flags))


def render_export_merge(checkpoint: Path, output_dir: Path) -> Command:
    """Merge a LoRA adapter into a full model folder (ms-swift refuses an existing one too)."""
    flags = {"adapters": str(checkpoint), "merge_lora": True, "output_dir": str(output_dir)}
    return Command(argv_from_flags("export", flags))


def render_deploy(
    checkpoint: Path, host: str, port: int, served_model_name: str, base: bool = False
) -> Command:
    """An OpenAI-compatible server (`/v1/chat/completions`) on one checkpoint or model."""
    flags = source_flags(checkpoint, base)
    flags.update(host=host, port=port, served_model_name=served_model_name)
    flags["external_plugins"] = str(SERVE_PLUGIN)
    return Command(argv_from_flags("deploy", flags))


def render_deploy_pair(
    checkpoint: Path,
    host: str,
    port: int,
    adapter_id: str,
    base_id: str,
    max_batch_size: int | None = None,
) -> Command:
    """One `swift deploy` serving the base model as `base_id` and the LoRA adapter as
    `adapter_id` from one model load: ms-swift reads the base model, template and system
    prompt from the adapter's args.json, loads the LoRA on the first request for its id and
    answers `base_id` with it disabled."""
    if "=" in str(checkpoint) or "=" in adapter_id:
        raise SwiftkitError.at(
            f"cannot serve {checkpoint} beside its base model",
            str(checkpoint),
            "ms-swift's --adapters NAME=PATH cannot hold a '=' in the name or the path",
            fix="move or rename the run folder to a path without '='",
        )
    flags: dict[str, object] = {"adapters": f"{adapter_id}={checkpoint}"}
    flags.update(served_model_name=base_id, host=host, port=port)
    if max_batch_size:
        flags["max_batch_size"] = max_batch_size
    flags["external_plugins"] = str(SERVE_PLUGIN)
    return Command(argv_from_flags("deploy", flags))


def add_plugin(argv: list[str], plugin: Path) -> list[str]:
    """argv with one more plugin file for ms-swift to load: one --external_plugins holds them
    all (a second flag would replace the first)."""
    out = list(argv)
    if "--external_plugins" in out:
        out.insert(out.index("--external_plugins") + 1, str(plugin))
    else:
        out += ["--external_plugins", str(plugin)]
    return out


def resume(argv: list[str], checkpoint: Path) -> list[str]:
    """A `swift sft` argv that resumes from `checkpoint` (in place of an earlier resume's)."""
    return without_resume(argv) + ["--resume_from_checkpoint", str(checkpoint)]


def without_resume(argv: list[str]) -> list[str]:
    out = list(argv)
    if "--resume_from_checkpoint" in out:  # a run resumed before
        i = out.index("--resume_from_checkpoint")
        del out[i : i + 2]
    return out


def output_dir(argv: list[str]) -> str | None:
    """The run folder a recorded `swift sft` argv writes into."""
    i = argv.index("--output_dir") + 1 if "--output_dir" in argv else len(argv)
    return argv[i] if i < len(argv) else None


def first_difference(was: list | dict, now: list | dict) -> str:
    """Where a recorded argv (or env) and a rendered one part: the first differing item."""
    if isinstance(was, dict) and isinstance(now, dict):
        keys = sorted(set(was) | set(now), key=str)
        key = next(k for k in keys if was.get(k) != now.get(k))
        return f"{key}={was.get(key)!r} recorded, {now.get(key)!r} now"
    if not isinstance(was, type(now)):
        return f"a {type(was).__name__} recorded, a {type(now).__name__} rendered"
    pairs = list(zip(was, now, strict=False))
    i = next((n for n, (a, b) in enumerate(pairs) if a != b), len(pairs))
    at = [w for w in was[:i] if str(w).startswith("--")][-1:] or ["the start"]
    was_item = repr(was[i]) if i < len(was) else "nothing"
    now_item = repr(now[i]) if i < len(now) else "nothing"
    return f"after {at[0]}: {was_item[:200]} recorded, {now_item[:200]} now"


# ms-swift's own ways, named in messages: its Modelfile writer and its LoRA merge.
OLLAMA_BY_HAND = shell_line("swift", "export", "--to_ollama", "true")
MERGE_BY_HAND = shell_line("swift", "export", "--merge_lora", "true")
