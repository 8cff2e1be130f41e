"""An Ollama Modelfile for the merged folder whose TEMPLATE and SYSTEM match training.

ms-swift's `swift export --to_ollama` writes FROM, a TEMPLATE built from its template's
prefixes (`{{ if .System }}system prefix{{ else }}prefix{{ end }}{{ if .Prompt }}prompt{{ end }}
{{ .Response }}suffix`) and stop words, but no SYSTEM line: Ollama then renders no system
message at all when a client sends none, which is not what the model was trained with. It also
loads the whole model (on the meta device) only to read its template. This writes the same
TEMPLATE shape for the ChatML format of Qwen's chat template, plus SYSTEM with the trained
prompt, from files alone.
"""

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
    """FROM the merged folder, the ChatML TEMPLATE, SYSTEM (when training had one: without it,
    Ollama sends no system message, as ms-swift's template does with none) and the stops."""
    # Values are triple-quoted. Ollama's parser has no escapes: a value holding `\"\"\"` cannot
    # be written, so the caller refuses it first.
    lines = [f"FROM {folder}", f'TEMPLATE """{TEMPLATE}"""']
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines += [f'PARAMETER stop "{IM_END}"', f'PARAMETER stop "{END_OF_TEXT}"', ""]
    return "\n".join(lines)
