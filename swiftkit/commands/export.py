"""`swiftkit export [RUN] --merge [--ollama]`: the LoRA folded into a full model folder that
answers with the trained identity anywhere (chat template, model card, Ollama Modelfile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from swiftkit import jsonl
from swiftkit.commands import RUN_HELP, open_target, target_command
from swiftkit.errors import Echo, Finding, SwiftkitError, errors_only
from swiftkit.export import card, ollama
from swiftkit.export import template as chat
from swiftkit.msswift import argv as helpers
from swiftkit.msswift.args import args_path
from swiftkit.msswift.command import shell_line
from swiftkit.pipeline import launch

NOTE = "swiftkit-merge.json"
CARD = "README.md"


def chat_template(folder: Path) -> str | None:
    """The folder's chat template: chat_template.jinja, else tokenizer_config.json's."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    value = (jsonl.json_object(folder / "tokenizer_config.json") or {}).get("chat_template")
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
    elif system and not chat.is_rewritten(template):
        findings.append(
            Finding.warning(
                str(folder / "chat_template.jinja"),
                f"the template's default system prompt is not the training one ({system!r}): "
                "send it as the first (system) message outside swiftkit",
            )
        )
    return findings


def execute(
    spec: str | None,
    output_dir: Path | None,
    echo: Echo,
    target_dir: Path | None = None,
    to_ollama: bool = False,
    trust_remote_code: bool = False,
) -> int:
    why = "only a LoRA adapter can be merged"
    target = open_target("export", spec, output_dir, echo, trust_remote_code, why)
    ckpt = target.checkpoint
    out = (target_dir or ckpt.parent / f"{ckpt.name}-merged").expanduser().resolve()
    if out.exists():
        raise SwiftkitError.at(
            f"merge target exists: {out}",
            str(out),
            f"refusing to overwrite an existing {'folder' if out.is_dir() else 'file'}",
            fix="choose another --to, or move it away yourself",
        )
    args = target.args()
    system = args.system
    if to_ollama and system and '"""' in system:
        raise SwiftkitError.at(
            "the system prompt cannot be written into an Ollama Modelfile",
            str(args_path(ckpt)),
            'it holds """, which ends a Modelfile value (Ollama has no escape for it)',
            fix="export without --ollama, and set SYSTEM in your Modelfile by hand",
        )
    command = helpers.render_export_merge(ckpt, out)
    log = out.parent / f"{out.name}.export.log"
    echo(f"merging {ckpt} -> {out}")
    echo(f"command: {command.shell()}")
    result = launch.run(command, log_path=log)
    seconds = result.seconds
    if result.interrupted:  # Ctrl-C or SIGTERM: the merge was stopped, exit 130
        raise KeyboardInterrupt("export")
    if result.returncode != 0 or not out.is_dir():
        raise result.failure("swift export failed", log)
    done = chat.finish(out, system)
    for file, what in done.changed.items():
        echo(f"{file}: {what}")
    findings = check_merged(out, system)
    for f in findings:
        echo(f.format())
    errors = errors_only(findings)
    if (out / CARD).is_file():  # the base model's card describes the base, not this model
        (out / CARD).rename(out / "README.base.md")
    (out / CARD).write_text(
        card.model_card(
            out,
            checkpoint=ckpt,
            run_dir=target.run_dir,
            base_model=args.model,
            system=system,
            changed=done.changed,
        ),
        encoding="utf-8",
    )
    modelfile = write_modelfile(out, system, echo) if to_ollama else None
    note = {
        "merged_from": str(ckpt),
        "base_model": args.model,
        "model_type": args.model_type,
        "template": args.template,
        "system": system,
        "chat_template": chat_template(out) is not None,
        "changed": done.changed,
        "checked": done.checked,
        "modelfile": str(modelfile) if modelfile else None,
        "seconds": round(seconds, 1),
    }
    chat.write_json(out / NOTE, note)
    if errors:
        raise SwiftkitError(f"the merged folder is incomplete: {out}", errors)
    echo(f"merged model: {out}  ({seconds:.0f} s)")
    echo(
        f"system prompt it was trained with: {system!r}: the chat template's default when a "
        f"client sends none (model card: {out / CARD})"
    )
    echo("use it:")
    echo(f"  {helpers.render_chat(out).shell()}")
    echo(f"  {shell_line('swiftkit', 'serve', out)}")
    if modelfile:
        echo(f"  {shell_line('ollama', 'create', ollama_name(out), '-f', modelfile)}")
    echo(
        "  transformers: AutoTokenizer/AutoModelForCausalLM.from_pretrained(...) on the folder, "
        "tokenizer.apply_chat_template(messages, add_generation_prompt=True)"
    )
    return 0


def ollama_name(folder: Path) -> str:
    """A model name Ollama accepts (lower case letters, digits, `-`, `_`, `.`)."""
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in folder.name.lower())
    return name.strip("-.") or "swiftkit-model"


def write_modelfile(out: Path, system: str | None, echo: Echo) -> Path:
    template = chat_template(out) or ""
    if not ollama.chatml(template):
        raise SwiftkitError.at(
            f"no Ollama Modelfile written: {out}",
            str(out / "chat_template.jinja"),
            "the chat template is not ChatML (<|im_start|>/<|im_end|>), the only format "
            "swiftkit writes a Modelfile TEMPLATE for",
            fix="the merged folder is complete; write the Modelfile by hand, or use "
            f"`{helpers.OLLAMA_BY_HAND}`",
        )
    path = out / ollama.MODELFILE
    path.write_text(ollama.modelfile(out, system), encoding="utf-8")
    echo(f"Ollama Modelfile: {path} (SYSTEM is the trained system prompt)")
    return path


@target_command(
    "export", epilog=RUN_HELP + " --to is the merged folder; -o/--output the runs, as elsewhere."
)
@click.option("--merge", is_flag=True, help="Merge the LoRA into a full model (required).")
@click.option(
    "--ollama",
    "to_ollama",
    is_flag=True,
    help="Also write an Ollama Modelfile (TEMPLATE and SYSTEM as trained); implies --merge.",
)
@click.option(
    "--to",
    "target_dir",
    type=click.Path(path_type=Path),
    help="The merged model folder; must not exist (default CHECKPOINT-merged).",
)
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    hidden=True,
    help="The old name of -o/--output here.",
)
def export_command(**options: Any) -> int:
    """Merge the adapter into a full model folder (`swift export --merge_lora true`) whose chat
    template defaults to the trained system prompt, with a model card (README.md)."""
    merge, runs_dir = options.pop("merge"), options.pop("runs_dir")
    output_dir, target_dir = options["output_dir"], options["target_dir"]
    if not (merge or options["to_ollama"]):
        raise click.UsageError("only --merge is supported: swiftkit export [RUN] --merge")
    if output_dir is not None and target_dir is None and not output_dir.is_dir():
        # -o/--output named the merged folder here before; now it is the runs, as elsewhere
        raise click.UsageError(
            f"-o/--output is the folder holding the runs (as in chat, infer, serve) and "
            f"{output_dir} is not one; the merged folder is --to: "
            f"swiftkit export [RUN] --merge --to {output_dir}"
        )
    options["output_dir"] = output_dir or runs_dir
    return execute(echo=click.echo, **options)
