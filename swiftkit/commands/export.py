"""`swiftkit export [RUN] --merge`: fold the LoRA into a full model folder that keeps its
chat template and system prompt, so it answers with the new identity outside swiftkit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from swiftkit.child import launch
from swiftkit.errors import Finding, SwiftkitError
from swiftkit.render import helpers
from swiftkit.render.command import shell_line
from swiftkit.runs.resolve import announce, resolve

Echo = Callable[[str], None]
NOTE = "swiftkit-merge.json"


def chat_template(folder: Path) -> str | None:
    """The folder's chat template: chat_template.jinja, else tokenizer_config.json's."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    try:
        cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = cfg.get("chat_template")
    if isinstance(value, list):  # named templates
        value = next((t.get("template") for t in value if t.get("name") == "default"), None)
    return value if isinstance(value, str) and value else None


def check_merged(folder: Path, system: str | None) -> list[Finding]:
    """What a loader outside swiftkit needs: weights, a chat template, the training system."""
    findings = []
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        findings.append(Finding.error(str(folder), "no config.json or *.safetensors weights"))
    template = chat_template(folder)
    if template is None:
        findings.append(
            Finding.error(
                str(folder),
                "no chat template (chat_template.jinja or tokenizer_config.json chat_template): "
                "a loader would format prompts differently from training",
                fix="copy chat_template.jinja from the base model folder",
            )
        )
    elif system and system not in template:
        findings.append(
            Finding.warning(
                str(folder / "chat_template.jinja"),
                f"the template's default system prompt is not the training one ({system!r}): "
                "send it as the first (system) message outside swiftkit",
            )
        )
    return findings


def default_target(checkpoint: Path) -> Path:
    return checkpoint.parent / f"{checkpoint.name}-merged"


def execute(
    spec: str | None, output_dir: Path | None, echo: Echo, target_dir: Path | None = None
) -> int:
    target = resolve(spec, output_dir)
    announce(target, echo)
    target.require_adapter("only a LoRA adapter can be merged")
    ckpt = target.checkpoint
    out = (target_dir or default_target(ckpt)).expanduser().resolve()
    if out.exists():
        raise SwiftkitError(
            f"merge target exists: {out}",
            [
                Finding.error(
                    str(out),
                    "refusing to overwrite an existing folder",
                    fix="choose another --to, or move that folder away yourself",
                )
            ],
        )
    args = target.args()
    system = args.system
    command = helpers.render_export_merge(ckpt, out)
    log = out.parent / f"{out.name}.export.log"
    echo(f"merging {ckpt} -> {out}")
    echo(f"command: {command.shell()}")
    result = launch.run(command, log_path=log)
    seconds = result.seconds
    if result.returncode != 0 or not out.is_dir():
        raise result.failure("swift export failed", log)
    findings = check_merged(out, system)
    for f in findings:
        echo(f.format())
    errors = [f for f in findings if f.severity == "error"]
    note = {
        "merged_from": str(ckpt),
        "base_model": args.model,
        "model_type": args.model_type,
        "template": args.template,
        "system": system,
        "chat_template": chat_template(out) is not None,
        "seconds": round(seconds, 1),
    }
    (out / NOTE).write_text(json.dumps(note, ensure_ascii=False, indent=2) + "\n", "utf-8")
    if errors:
        raise SwiftkitError(f"the merged folder is incomplete: {out}", errors)
    echo(f"merged model: {out}  ({seconds:.0f} s)")
    echo(f"system prompt it was trained with: {system!r} (also in {out / 'args.json'})")
    echo("use it:")
    echo(f"  {helpers.render_chat(out).shell()}")
    echo(f"  {shell_line('swiftkit', 'serve', out)}")
    echo(
        "  transformers: AutoTokenizer/AutoModelForCausalLM.from_pretrained(...) on the folder, "
        "tokenizer.apply_chat_template(messages, add_generation_prompt=True)"
    )
    return 0
