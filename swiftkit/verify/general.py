"""Judging a general probe's answer as an answer (the standard library only): a number is
compared as a number on the answer's final number (or the one it calls the answer), leaving out
the numbers it denies and those of the question ("1,000" is 1000; 21 is not 210); a word is
matched as a whole word, case-insensitively; an answer that offers several candidates ("21 or
22", a list, another probe's answer) fails. Also: whether an answer names the new identity."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

from swiftkit.verify.scoring import Judgement, _loop, _unreadable

_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![0-9A-Za-z])")
# A clause: what a negation before a value reaches ("It is not 391; it is 400", "400, not 391").
_CLAUSE = re.compile(r"[.;:!?。；：！？,，\n](?!\d)|\b(?:but|however|actually)\b|但是?|而是|其实")
_DENIED_BEFORE = re.compile(r"\b(?:not|never|no|rather than|instead of)\b|n't|不|并非|而非", re.I)
_DENIED_AFTER = re.compile(r"^\s*(?:is|was)?\s*(?:wrong|incorrect|not (?:right|correct))|^\s*不对")
_CALLED = re.compile(r"(?:answer|result|答案|结果)\s*(?:is|:|：|是|为|=)\s*$", re.I)
_CALLED_AFTER = re.compile(r"^\s*is the (?:final |correct )?answer", re.I)
_OR = re.compile(r"^\s*,?\s*(?:or|或者?|还是)\s*(?:maybe|perhaps|possibly)?\s*$")
_OR_NEXT = re.compile(r"\s*,?\s*(?:or\b|或|还是)")
_OR_BEFORE = re.compile(r"(?:\bor|或者?|还是)\s*$")
_LIST = re.compile(r"^\s*[,，、;；]\s*$")


def number(text: str) -> Decimal | None:
    """The value of a number as written ("1,024", "2.50"); None when it is not one."""
    try:
        return Decimal(text.strip().replace(",", "")) if _NUMBER.fullmatch(text.strip()) else None
    except InvalidOperation:
        return None


def _word(value: str) -> re.Pattern[str]:
    left = r"(?<![A-Za-z0-9])" if value[:1].isascii() and value[:1].isalnum() else ""
    right = r"(?![A-Za-z0-9])" if value[-1:].isascii() and value[-1:].isalnum() else ""
    return re.compile(left + re.escape(value) + right, re.IGNORECASE)


def mentions(text: str, words: Iterable[str]) -> bool:
    """Whether `text` names any of `words` as a whole word (any case)."""
    return any(w.strip() and _word(w).search(text) for w in words)


def _denied(text: str, start: int, end: int) -> bool:
    cut = max([0] + [m.end() for m in _CLAUSE.finditer(text, 0, start)])
    return bool(_DENIED_BEFORE.search(text, cut, start) or _DENIED_AFTER.search(text[end:]))


def _numbers(answer: str, question: str, expected: set[Decimal]) -> list[re.Match[str]]:
    """The answer's numbers as candidates: not denied, not the question's (unless expected)."""
    asked = {number(m.group(0)) for m in _NUMBER.finditer(question)} - expected
    return [
        m
        for m in _NUMBER.finditer(answer)
        if number(m.group(0)) not in asked and not _denied(answer, m.start(), m.end())
    ]


def _candidates(answer: str, found: list[re.Match[str]]) -> str | None:
    """Why the answer offers several values: two joined by "or", or a list of three."""
    listed = 1
    for a, b in zip(found, found[1:], strict=False):
        between = answer[a.end() : b.start()]
        if _OR.match(between):
            return f"offers several answers ({a.group(0)!r} or {b.group(0)!r})"
        listed = listed + 1 if _LIST.match(between) else 1
        if listed >= 3:
            return "offers several answers (a list)"
    return None


def judge_general(
    answer: str,
    expect: Sequence[str],
    question: str = "",
    *,
    rivals: Sequence[str] = (),
    cut_off: bool = False,
) -> Judgement:
    """A general probe's answer: readable, not looping, and giving the expected value and no
    other. `rivals`: what the set's other probes expect (naming one is offering several)."""
    if not answer.strip():
        return Judgement(False, "empty answer")
    if cut_off:  # max_new_tokens can end inside a character: one U+FFFD at the end is that
        answer = answer.removesuffix("\ufffd")
    why = _unreadable(answer) or _loop(answer)
    if why:
        return Judgement(False, why)
    values = {v for v in map(number, expect) if v is not None}
    words = [e for e in expect if e.strip() and number(e) is None]
    other = [
        r for r in rivals if r not in expect and number(r) is None and not mentions(question, [r])
    ]
    for m in (m for r in other for m in _word(r).finditer(answer)):
        if not _denied(answer, m.start(), m.end()):
            return Judgement(False, f"offers several answers (also {m.group(0)!r})")
    said = None
    if values:
        found = _numbers(answer, question, values)
        why = _candidates(answer, found)
        if why:
            return Judgement(False, why)
        called = [
            m
            for m in found
            if _CALLED.search(answer[: m.start()]) or _CALLED_AFTER.match(answer[m.end() :])
        ]
        final = (called or found)[-1] if found else None
        if final is not None and number(final.group(0)) not in values and not words:
            return Judgement(False, f"answers {final.group(0)!r}, not {expect[0]!r}")
        if final is not None and number(final.group(0)) in values:
            said = final.group(0)
    if said is None:
        hits = [m for w in words for m in _word(w).finditer(answer)]
        hits = [m for m in hits if not _denied(answer, m.start(), m.end())]
        for m in hits:
            if _OR_NEXT.match(answer, m.end()) or _OR_BEFORE.search(answer[: m.start()]):
                return Judgement(False, f"offers several answers ({m.group(0)!r} or another)")
        said = hits[0].group(0) if hits else None
    if said is None:
        return Judgement(False, f"does not give {' or '.join(map(repr, expect))}")
    return Judgement(True, f"gives {said!r}" + ("; cut off" if cut_off else ""))


def leaked(answers: Sequence[tuple[str, str | None]], new: Sequence[str]) -> list[str]:
    """The ids of the (id, answer) pairs whose answer names the new name or author."""
    return [i for i, text in answers if text and mentions(text, new)]
