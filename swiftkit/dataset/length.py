"""Token length of each record with the chat template, against the recipe's max_length:
counted with the model's tokenizer.json when it is local, estimated otherwise."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from swiftkit.dataset.duplicates import BROKEN
from swiftkit.dataset.fill import Identity, fill_record
from swiftkit.dataset.read import Fields, Record
from swiftkit.errors import Finding

CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
TURN_OVERHEAD = 5  # <|im_start|>role\n ... <|im_end|>\n in Qwen's chat template


def record_texts(value: Fields, system: str | None) -> list[str]:
    """The turns ms-swift encodes for a record (its system prompt or the recipe's)."""
    if "messages" in value:
        texts = [m["content"] for m in value["messages"]]
        if system and value["messages"][0].get("role") != "system":
            texts.insert(0, system)
        return texts
    sys_prompt = value.get("system", system)
    question = value["instruction"] + ("\n" + value["input"] if value.get("input") else "")
    return [t for t in (sys_prompt, question, value["output"]) if t]


def estimate_tokens(text: str) -> int:
    """A stated estimate without the tokenizer: one token per CJK character, one per four
    other characters (rounded up). Qwen's BPE usually needs fewer."""
    cjk = len(CJK.findall(text))
    return cjk + -(-(len(text) - cjk) // 4)


class TokenCounter:
    """Counts tokens with the model's tokenizer.json (the `tokenizers` library, no torch),
    or estimates them."""

    def __init__(self, model_dir: Path | None = None):
        self.tokenizer: Any = None
        self.how = "estimated: 1 token per CJK character, 1 per 4 other characters"
        tok = model_dir / "tokenizer.json" if model_dir else None
        if tok is not None and tok.is_file():
            try:
                from tokenizers import Tokenizer

                self.tokenizer = Tokenizer.from_file(str(tok))
                self.how = f"counted with {tok}"
            except Exception:  # a tokenizer file the library cannot read: fall back
                self.tokenizer = None

    def count_many(self, records: list[list[str]], limit: int | None = None) -> list[int]:
        """Tokens of each record's turns with the chat template. With `limit`, a record whose
        UTF-8 size is within it is not tokenized (no tokenizer makes more tokens than bytes),
        and the rest are tokenized in one batch, each distinct text once."""
        bounds = [
            sum(len(t.encode("utf-8")) for t in texts) + TURN_OVERHEAD * len(texts)
            for texts in records
        ]
        within = [limit is not None and bound <= limit for bound in bounds]
        unique = sorted(
            {t for texts, ok in zip(records, within, strict=True) if not ok for t in texts}
        )
        if self.tokenizer is not None and unique:
            encoded = self.tokenizer.encode_batch(unique, add_special_tokens=False)
            sizes = {t: len(e.ids) for t, e in zip(unique, encoded, strict=True)}
        else:
            sizes = {t: estimate_tokens(t) for t in unique}
        return [
            n if ok else sum(sizes[t] for t in texts) + TURN_OVERHEAD * len(texts)
            for n, ok, texts in zip(bounds, within, records, strict=True)
        ]


def length_findings(
    records: Sequence[Record[Fields]],
    source: str,
    max_length: int,
    counter: TokenCounter,
    system: str | None = None,
    identity: Identity | None = None,
) -> list[Finding]:
    """Records longer than max_length: ms-swift truncates or drops them, and on a 24 GB card
    the longest record is what runs out of memory."""
    measured: list[tuple[Record[Fields], list[str]]] = []
    for rec in records:
        try:
            measured.append((rec, record_texts(fill_record(rec.value, identity or {}), system)))
        except BROKEN:
            continue
    counts = counter.count_many([texts for _, texts in measured], limit=max_length)
    fix = (
        "shorten or split the record, or raise max_length under [train] if the GPU has room "
        "(over-long records are the usual cause of out-of-memory)"
    )
    return [
        rec.error(
            source,
            f"{n} tokens with the chat template, more than max_length = {max_length} "
            f"({counter.how})",
            "messages" if "messages" in rec.value else "output",
            fix,
        )
        for (rec, _), n in zip(measured, counts, strict=True)
        if n > max_length
    ]
