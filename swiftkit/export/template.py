"""The merged folder's chat template and generation defaults, made to match training. A chat
template injects its own default system prompt when a client sends none (Qwen2.5's "You are
Qwen..."), so the model answers as Qwen again outside swiftkit: a few lines of Jinja put
before the template make the trained system prompt the default; a client's own still wins."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiftkit import jsonl

MARK = "swiftkit: the default system prompt is the one this model was trained with"
JINJA_FILE = "chat_template.jinja"
TOKENIZER_CONFIG = "tokenizer_config.json"
GENERATION_CONFIG = "generation_config.json"


def with_default_system(template: str, system: str) -> str:
    """The template with `system` as the system message when a client sends none. A template
    this already rewrote is rewritten from its original, never wrapped twice."""
    end = f"{{#- end {MARK} -#}}\n"  # `-#}`: no newline before the original's first text
    # a Jinja literal: Jinja decodes its escapes as Python's unicode-escape, which reads JSON's
    # (\" \\ \n \t \u00XX) the same; non-ASCII text is kept (Jinja escapes it first)
    literal = json.dumps(system, ensure_ascii=False)
    return (
        f"{{#- {MARK} #}}\n"
        "{%- if not messages or messages[0]['role'] != 'system' %}\n"
        f"    {{%- set messages = [{{'role': 'system', 'content': {literal}}}]"
        " + messages %}\n"
        "{%- endif %}\n"
        f"{end}" + template.split(end, 1)[-1]
    )


def is_rewritten(template: str) -> bool:
    return MARK in template


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@dataclass
class Finished:
    changed: dict[str, str] = field(default_factory=dict)  # file name -> what changed
    checked: dict[str, str] = field(default_factory=dict)  # file name -> why it is left as is


def set_default_system(folder: Path, system: str, done: Finished) -> None:
    """Rewrite every chat template a loader reads: chat_template.jinja (transformers >= 4.43,
    vLLM) and tokenizer_config.json's (older loaders, llama.cpp), a string or a named list."""
    jinja = folder / JINJA_FILE
    if jinja.is_file():
        jinja.write_text(with_default_system(jinja.read_text(encoding="utf-8"), system), "utf-8")
        done.changed[JINJA_FILE] = "default system prompt set to the trained one"
    cfg = jsonl.json_object(folder / TOKENIZER_CONFIG)
    if cfg is None:
        done.checked[TOKENIZER_CONFIG] = "missing or not a JSON object"
        return
    value = cfg.get("chat_template")
    if isinstance(value, str):
        cfg["chat_template"] = with_default_system(value, system)
    elif isinstance(value, list):
        cfg["chat_template"] = [
            {**t, "template": with_default_system(t["template"], system)}
            if isinstance(t, dict) and isinstance(t.get("template"), str)
            else t
            for t in value
        ]
    else:
        done.checked[TOKENIZER_CONFIG] = "holds no chat_template (chat_template.jinja has it)"
        return
    write_json(folder / TOKENIZER_CONFIG, cfg)
    done.changed[TOKENIZER_CONFIG] = "chat_template's default system prompt set to the trained one"


def check_generation_config(folder: Path, done: Finished) -> None:
    """generation_config.json's one default that matters for the identity: generate() stops
    at its eos_token_id; without the template's end-of-turn token (the tokenizer's eos,
    `<|im_end|>` for Qwen) the answer runs on past the turn, so it is added."""
    path = folder / GENERATION_CONFIG
    gen = jsonl.json_object(path)
    eos = (jsonl.json_object(folder / TOKENIZER_CONFIG) or {}).get("eos_token")
    if isinstance(eos, dict):  # {"content": "<|im_end|>", ...} in older files
        eos = eos.get("content")
    # its id from tokenizer.json's added tokens, without loading a tokenizer
    added = (jsonl.json_object(folder / "tokenizer.json") or {}).get("added_tokens") or []
    found = [a.get("id") for a in added if isinstance(a, dict) and a.get("content") == eos]
    end = found[0] if isinstance(eos, str) and eos and found and isinstance(found[0], int) else None
    if gen is None or end is None:
        done.checked[GENERATION_CONFIG] = "missing, or the end-of-turn token's id is unknown"
        return
    ids = gen.get("eos_token_id")
    listed = ids if isinstance(ids, list) else ([] if ids is None else [ids])
    if end in listed:
        done.checked[GENERATION_CONFIG] = f"eos_token_id {ids} already stops at {eos}; no system"
        return
    gen["eos_token_id"] = [*listed, end]
    write_json(path, gen)
    done.changed[GENERATION_CONFIG] = f"eos_token_id {ids} -> {gen['eos_token_id']} ({eos})"


def finish(folder: Path, system: str | None) -> Finished:
    done = Finished()
    if system:
        set_default_system(folder, system, done)
    check_generation_config(folder, done)
    return done
