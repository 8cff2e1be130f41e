"""The merged folder's model card (README.md): who the model says it is, what it was made
from, the system prompt it was trained with, the recipe and the verify scores."""

from __future__ import annotations

import json
import re
from contextlib import suppress
from pathlib import Path

from swiftkit.msswift.argv import MERGE_BY_HAND
from swiftkit.pipeline.manifest import Manifest
from swiftkit.verify.report import REPORT_JSON, VerifyReport, gate, pct


def _fence(text: str, lang: str = "") -> list[str]:
    """A fenced block that no backtick run inside `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{lang}", text.rstrip("\n"), ticks]


def model_card(
    folder: Path,
    *,
    checkpoint: Path,
    run_dir: Path | None,
    base_model: str | None,
    system: str | None,
    changed: dict[str, str],
) -> str:
    manifest = Manifest.read(run_dir) if run_dir else Manifest()
    name, author = manifest.identity.name or folder.name, manifest.identity.author
    md = [
        "---",
        f"base_model: {json.dumps(base_model or 'unknown', ensure_ascii=False)}",
        "library_name: transformers",
        "tags: [swiftkit, ms-swift, lora, merged]",
        "---",
        "",
        f"# {name}",
        "",
        f"A LoRA identity fine-tune{f' by {author}' if author else ''}, merged into its base "
        f"model with `swiftkit export --merge` (ms-swift `{MERGE_BY_HAND}`).",
        "",
        f"- identity: name {name!r}" + (f", author {author!r}" if author else ""),
        f"- base model: `{base_model}`",
        f"- merged from: `{checkpoint}`" + (f" (run `{run_dir}`)" if run_dir else ""),
        "",
        "## System prompt",
        "",
        "The model was trained with this system prompt. The chat template uses it as the "
        "default when a client sends no system message; send another one and the identity "
        "may not hold.",
        "",
        *_fence(system or "(none: the template's own default)"),
        "",
    ]
    if changed:
        md += ["Changed in this folder after the merge:", ""]
        md += [f"- `{file}`: {what}" for file, what in changed.items()]
        md.append("")
    # the run's verify scores (report.json), said to be another checkpoint's when they are
    report = VerifyReport.read(run_dir / REPORT_JSON) if run_dir else None
    md += ["## Verify", ""]
    if report is None:
        md += ["Not verified (`swiftkit verify RUN` measures it).", ""]
    else:
        other = Path(report.checkpoint).resolve() != checkpoint.resolve()
        md += [
            f"**{report.headline()}** (measured {report.measured}, checkpoint "
            f"`{report.checkpoint}`{': NOT the merged one' if other else ''})",
            "",
            "| probes | count | base model | adapter | gate | verdict |",
            "| --- | --- | --- | --- | --- | --- |",
            *[
                f"| {label} | {s.probes} | {pct(s.base)} | {pct(s.adapter)} | {gate(s)} "
                f"| {s.verdict} |"
                for label, s in (("identity", report.identity), ("general", report.general))
            ],
            "",
        ]
    # the recipe as the run read it (its file, when still there), else the resolved values
    text, lang = "", ""
    if manifest.recipe_resolved:
        text, lang = json.dumps(manifest.recipe_resolved.raw, ensure_ascii=False, indent=2), "json"
    if manifest.recipe:
        with suppress(OSError):
            text, lang = Path(manifest.recipe).read_text(encoding="utf-8"), "toml"
    if text:
        md += ["## Recipe", "", f"`{manifest.recipe}`:" if manifest.recipe else "", ""]
        md += [*_fence(text, lang), ""]
    md += [
        "## Use",
        "",
        *_fence(
            "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
            f'tok = AutoTokenizer.from_pretrained("{folder}")\n'
            f'model = AutoModelForCausalLM.from_pretrained("{folder}")\n'
            'ids = tok.apply_chat_template([{"role": "user", "content": "你是谁?"}],\n'
            '                              add_generation_prompt=True, return_tensors="pt")\n'
            "out = model.generate(ids, max_new_tokens=64, do_sample=False)\n"
            "print(tok.decode(out[0][ids.shape[-1]:], skip_special_tokens=True))",
            "python",
        ),
        "",
    ]
    return "\n".join(md)
