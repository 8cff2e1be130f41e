"""Scoring probe answers, in pure Python: imported by the swiftkit process and by the
stop-when-verified plugin inside ms-swift's process, so both judge an answer the same way."""

from __future__ import annotations

# What the base model (Qwen2.5) calls itself; an answer that still says one of these fails.
OLD_IDENTITY = ("Qwen", "通义千问", "千问", "通义", "阿里", "Alibaba")


def old_markers(new: list[str], old: list[str] | tuple[str, ...] = OLD_IDENTITY) -> list[str]:
    """The old-identity strings to forbid, minus any the new name or author itself contains
    (a model renamed "Qwen-Helper" may say its own name)."""
    fresh = [n.lower() for n in new if n]
    return [o for o in old if not any(o.lower() in n for n in fresh)]


def identity_ok(answer: str, new: list[str], old: list[str]) -> bool:
    """The new name or author is present and no old-identity string is."""
    text = answer.lower()
    return any(n and n.lower() in text for n in new) and not any(o.lower() in text for o in old)


def general_ok(answer: str, expect: list[str]) -> bool:
    text = answer.lower()
    return any(e.lower() in text for e in expect)


def score(passed: list[bool]) -> float | None:
    """Fraction passed; None when nothing was measured (never a pass by default)."""
    return sum(passed) / len(passed) if passed else None
