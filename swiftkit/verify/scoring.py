"""Judging probe answers, in pure Python (the standard library only): imported by the swiftkit
process and loaded by path by the stop-when-verified plugin inside ms-swift's process, so both
judge an answer the same way. Every judgement says why it passed or failed.

An identity answer passes only when it is readable (no U+FFFD, mojibake or control bytes), does
not loop, was not cut off, does not affirm the old identity (a denial that names it is right),
names the new name or author, and says something besides the name.

The rules are hand-written regular expressions: no library judges zh/en answers this way, and
the plugin may not import one. tests/scoring_corpus.jsonl pins each rule with real examples.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Beside this file's package, read by path: the plugin has no swiftkit.resources to ask.
DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "old_identities.json"


@dataclass(frozen=True)
class Judgement:
    ok: bool
    reason: str  # always set: why it passed or failed, short


@cache
def _table() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def families() -> list[str]:
    return list(_table()["families"])


def family_of(model: str | None, model_type: str | None = None) -> str | None:
    """The base-model family from its id or path and its model_type; None when unknown."""
    text = f"{model or ''} {model_type or ''}".lower()
    for name, fam in _table()["families"].items():
        if any(m in text for m in fam["match"]):
            return name
    return None


def old_markers(new: Sequence[str], family: str | None = None) -> list[str]:
    """What the base model may still call itself: its family's names (all families when None
    or unknown) and those every model may borrow, minus any marker that is one of the new
    names or contains one (a bot renamed "Qwen-Helper" keeps "Qwen": its own name is masked
    before markers are looked for)."""
    table = _table()["families"]
    chosen = [family] if family in table else list(table)
    chosen += [f for f in _table()["always"] if f not in chosen]
    fresh = [n.lower() for n in new if n]
    out: list[str] = []
    for fam in chosen:
        for m in table[fam]["markers"]:
            if m not in out and not any(n in m.lower() for n in fresh):
                out.append(m)
    return out


_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTER = re.compile(rf"[^\W\d_]|[{_CJK}]")


def _word_pattern(word: str, exact_case: bool = False) -> re.Pattern[str]:
    """`word` as written (any run of spaces in it matches any spaces or none), not inside a
    longer ASCII word or number."""
    parts = [re.escape(p) for p in word.split()]
    body = r"\s*".join(parts)
    left = r"(?<![A-Za-z0-9])" if word[:1].isascii() and word[:1].isalnum() else ""
    right = r"(?![A-Za-z0-9])" if word[-1:].isascii() and word[-1:].isalnum() else ""
    return re.compile(left + body + right, 0 if exact_case else re.IGNORECASE)


def _marker_pattern(marker: str) -> re.Pattern[str]:
    return _word_pattern(marker, exact_case=marker.isascii() and len(marker) <= 4)


# --- readable text -----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Runs of characters that UTF-8 bytes become when read as latin-1 or cp1252 ("æˆ‘æ˜¯" is 我是).
_LATIN_RUN = re.compile(
    r"[\x80-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{2,}"
)
_UTF8_SEQ = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _as_bytes(run: str) -> bytes:
    out = bytearray()
    for ch in run:
        out += bytes([ord(ch)]) if ord(ch) < 256 else ch.encode("cp1252")
    return bytes(out)


def _unreadable(text: str) -> str | None:
    if "\ufffd" in text:
        return "contains U+FFFD (broken text)"
    if "锟斤拷" in text or "烫烫烫" in text:
        return "contains 锟斤拷/烫烫烫 (broken text)"
    for run in _LATIN_RUN.findall(text):
        if _UTF8_SEQ.search(_as_bytes(run)):
            return f"mojibake: UTF-8 read as latin-1 ({run[:12]!r})"
    if _CONTROL.search(text):
        return "contains control characters (broken text)"
    return None


# --- loops -------------------------------------------------------------------------------

_THRICE = re.compile(r"(.{2,80}?)\1{2,}", re.S)  # a piece three times in a row
_TWICE = re.compile(r"(.{10,200}?)\1", re.S)  # a sentence twice in a row
_ONE_CHAR = re.compile(r"(\w)\1{7,}")  # one letter eight times
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
NGRAM, NGRAM_TIMES = 4, 4  # a 4-token phrase four times is a loop even with text between


def _shown(unit: str) -> str:
    return unit if len(unit) <= 24 else unit[:23] + "…"


def _tail_loop(text: str) -> str | None:
    """The piece the text ends by repeating: twice and then part of it a third time ("我是Nova。
    我是Nova。我是N"), the sign of an answer stopped mid-loop by the token limit."""
    n = len(text)
    for size in range(4, min(200, n // 2) + 1):
        k = 0  # trailing characters equal to the one `size` before them
        while k < n - size and text[n - 1 - k] == text[n - 1 - k - size]:
            k += 1
        if k > size and (k + size) % size:
            unit = text[n - k - size : n - k]
            if _LETTER.search(unit):
                return unit
    return None


def _loop(text: str) -> str | None:
    for pattern in (_ONE_CHAR, _THRICE, _TWICE):
        for m in pattern.finditer(text):
            if _LETTER.search(m.group(1)):
                return f"repeats itself (loop of {_shown(m.group(1))!r})"
    unit = _tail_loop(text)
    if unit:
        return f"repeats itself (loop of {_shown(unit)!r}, stops mid-loop)"
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    grams = Counter(tuple(tokens[i : i + NGRAM]) for i in range(len(tokens) - NGRAM + 1))
    if grams:
        gram, times = grams.most_common(1)[0]
        if times >= NGRAM_TIMES:
            return f"repeats itself ({' '.join(gram)!r} {times} times)"
    return None


# Commas or semicolons doubled, or a comma right before a full stop: "Nova,,roma", "La,。".
_PUNCT_RUN = re.compile(r"[,，、;；:：]{2,}|[,，、;；:：][。.!！?？]")
MOST_PUNCTUATION = 0.3  # fluent zh/en text is well under a third punctuation
MARKDOWN = set("*_#`~-")  # **bold**, lists and code marks are not punctuation here


def _punctuation(text: str) -> int:
    """Punctuation marks (Unicode category P), markdown marks and emoji left out."""
    return sum(unicodedata.category(ch)[0] == "P" and ch not in MARKDOWN for ch in text)


def _garbled(text: str) -> str | None:
    m = _PUNCT_RUN.search(text)
    if m:
        return f"garbled punctuation ({_shown(m.group(0))!r})"
    end = text.rstrip()[-1:]
    if end in ",，、;；:：":
        return f"stops mid-sentence (ends with {end!r})"
    visible = "".join(text.split())
    if len(visible) >= 10 and _punctuation(visible) > MOST_PUNCTUATION * len(visible):
        return "garbled: mostly punctuation"
    return None


def _degenerate(answer: str, cut_off: bool) -> str | None:
    """Why the text is not a fluent answer, or None."""
    if not answer.strip():
        return "empty answer"
    why = _unreadable(answer) or _loop(answer) or _garbled(answer)
    if why:
        return why
    return "cut off at max_new_tokens" if cut_off else None


# --- the old identity --------------------------------------------------------------------

# Where a negation's reach ends: the end of a sentence, a turn ("but", "其实"), or a comma
# before a new subject ("不是，我是…", "No, I am …").
_BOUNDARY = re.compile(
    r"[。！？!?；;\n]|\.(?=\s|$)|[,，、:：]\s*(?=(?:I\b|I'|it\b|my\b|we\b|我|它|本))"
    r"|\b(?:but|however|actually|though)\b|而是|但是|但|其实|实际上|只是|不过",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(?:not|never|no|nor|neither|unlike|instead of|rather than|other than|nothing to do)\b"
    r"|n't|不是|并非|而非|绝非|不属于|不再|没有|并不|不(?!仅|但|断|久|少|错|过)|与其",
    re.IGNORECASE,
)
_AFTER_NEGATION = re.compile(r"^[^。！？!?；;\n]{0,16}?(?:无关|没有关系|没关系|毫无关系|不相关)")


def _mask(text: str, names: Sequence[str]) -> str:
    """The text with each new name blanked out (same length), so a marker inside the new
    name ("Qwen" in "Qwen-Helper") is not read as the old identity."""
    for name in names:
        if name.strip():
            text = _word_pattern(name).sub(lambda m: "\u2007" * len(m.group(0)), text)
    return text


def _affirmed(masked: str, old: Sequence[str]) -> tuple[str | None, list[str]]:
    """The first old marker the text affirms (None: none), and the ones it denies."""
    cuts = [0] + [m.end() for m in _BOUNDARY.finditer(masked)]
    found = sorted(
        (
            (m.start(), -m.end(), marker)
            for marker in old
            for m in _marker_pattern(marker).finditer(masked)
        ),
    )
    denied: list[str] = []
    reach = -1  # a marker inside a longer one found before ("千问" in "通义千问") is that one
    for start, neg_end, marker in found:
        end = -neg_end
        if end <= reach:
            continue
        reach = end
        cut = max(c for c in cuts if c <= start)
        if not (_NEGATION.search(masked[cut:start]) or _AFTER_NEGATION.search(masked[end:])):
            return marker, denied
        denied.append(marker)
    return None, list(dict.fromkeys(denied))


# --- the new identity --------------------------------------------------------------------


def _named(text: str, new: Sequence[str]) -> list[str]:
    return [n for n in new if n.strip() and _word_pattern(n).search(text)]


def _near_miss(text: str, new: Sequence[str]) -> str | None:
    """A spelling close to a new name but not it ('Nvoa' for 'Nova', 'Lumen La' for 'Lumen
    Lab'), in text whose correct spellings are masked."""
    low = text.lower()
    for name in new:
        target = name.lower()
        if len(target) < 3:
            continue
        shorter = [len(target) - 1] if len(target) > 5 else []  # "Nov" is a word, not "Nova"
        for size in (*shorter, len(target), len(target) + 1):
            for i in range(0, max(0, len(low) - size) + 1):
                piece = low[i : i + size]
                if "\u2007" in piece or piece[:1].isspace() or piece[-1:].isspace():
                    continue
                if name.isascii() and (
                    (i > 0 and low[i - 1].isalnum())
                    or (i + size < len(low) and low[i + size].isalnum())
                ):
                    continue
                if difflib.SequenceMatcher(None, piece, target).ratio() >= 0.75:
                    return f"misspells the name ({text[i : i + size]!r} for {name!r})"
    return None


def _says_more_than_the_name(masked: str) -> bool:
    """At least two words or CJK characters besides the names (an answer, not a label)."""
    return len(_TOKEN.findall(masked)) >= 2


def judge_identity(
    answer: str, new: Sequence[str], old: Sequence[str], *, cut_off: bool = False
) -> Judgement:
    """An identity probe's answer: fluent, not the old identity, names the new one, and says
    something besides the name."""
    why = _degenerate(answer, cut_off)
    if why:
        return Judgement(False, why)
    masked = _mask(answer, new)
    affirmed, denied = _affirmed(masked, old)
    if affirmed:
        return Judgement(False, f"affirms the old identity {affirmed!r}")
    named = _named(answer, new)
    miss = _near_miss(masked, new)
    if not named:
        names = " or ".join(n for n in new if n.strip()) or "the new identity"
        return Judgement(False, f"does not name {names}" + (f": {miss}" if miss else ""))
    if miss:
        return Judgement(False, miss)
    if not _says_more_than_the_name(masked):
        return Judgement(False, "does not answer: only the name")
    said = f"names {' and '.join(named)}; fluent"
    return Judgement(True, said + (f"; denies {', '.join(map(repr, denied))}" if denied else ""))


def score(passed: list[bool]) -> float | None:
    """Fraction passed; None when nothing was measured (never a pass by default)."""
    return sum(passed) / len(passed) if passed else None
