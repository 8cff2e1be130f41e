"""An Ollama Modelfile for the merged folder whose TEMPLATE and SYSTEM match training, from
files alone. ms-swift's `swift export --to_ollama` writes the same TEMPLATE shape but no SYSTEM
line (Ollama then sends no system message when a client sends none, unlike training), and
loads the whole model only to read its template."""

from __future__ import annotations

from pathlib import Path

MODELFILE = "Modelfile"

# ChatML (Qwen2 / Qwen2.5), in the shape ms-swift's to_ollama writes for its `qwen` templates.
IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
TEMPLATE = (
    "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n{{ end }}"
    "{{ .Response }}<|im_end|>"
)


def chatml(template: str) -> bool:
    """Whether a Hugging Face chat template speaks ChatML (the only format written here)."""
    return IM_START in template and IM_END in template


def modelfile(folder: Path, system: str | None) -> str:
    """FROM the merged folder, the ChatML TEMPLATE, SYSTEM (when training had one) and the
    stops. Ollama's parser has no escapes: the caller refuses a system holding `\"\"\"`."""
    lines = [f"FROM {folder}", f'TEMPLATE """{TEMPLATE}"""']
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines += [f'PARAMETER stop "{IM_END}"', f'PARAMETER stop "{END_OF_TEXT}"', ""]
    return "\n".join(lines)
