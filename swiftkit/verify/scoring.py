"""Judging probe answers, in pure Python (the standard library only): imported by swiftkit and
loaded by path by the stop-when-verified plugin inside ms-swift's process, so both judge alike.

An identity answer is read as claims, not substrings: each new name or author, and each word of
another identity (every vendor of data/old_identities.json, versions and spacing included:
"Qwen2.5", "open ai"), is asserted, denied, evaded or quoted in its clause. In order, an answer
must be readable and fluent (no U+FFFD, mojibake, loop or cut-off), spoken to the user (not to
the grader), not an echo of the question, claim no other identity ("I am Qwen2.5, also known as
Nova" fails; "I am not Qwen; I am Nova" passes), assert the new one without denying or evading
it, answer what the probe `asks` (name, author or both), and spell it ("Nvoa" fails) in more
than the name alone. The new identity's own words are masked first ("Google" in the author
"Google Fans" is its own). The rules are hand-written regular expressions: no library judges
zh/en answers this way, and the plugin may not import one. tests/scoring_corpus.jsonl pins
each rule with examples.
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


def family_of(model: str | None, model_type: str | None = None) -> str | None:
    """The base-model family from its id or path and its model_type; None when unknown."""
    text = f"{model or ''} {model_type or ''}".lower()
    for name, fam in _table()["families"].items():
        if any(m in text for m in fam["match"]):
            return name
    return None


def old_markers(new: Sequence[str], family: str | None = None) -> list[str]:
    """Every identity an answer must not claim, the base family's first, minus any marker in a
    new name (a bot "Qwen-Helper" keeps "Qwen": its own name is masked before markers)."""
    table = _table()["families"]
    fresh = [n.lower() for n in new if n]
    chosen = ([family] if family in table else []) + [f for f in table if f != family]
    out = [m for f in chosen for m in table[f]["markers"]]
    return [m for m in dict.fromkeys(out) if not any(n in m.lower() for n in fresh)]


def family_word(value: str, family: str | None) -> str | None:
    """The base family's own word that `value` is (any case, spacing or version: "qwen2.5" is
    "Qwen"), or None: a new identity that is the old one proves nothing."""
    bare = re.sub(r"[\s_-]*v?\d[\w.]*$", "", value).strip()
    markers = _table()["families"].get(family or "", {}).get("markers", [])
    return next((m for m in markers if _marker_pattern(m).fullmatch(bare)), None)


def needs(asks: str | None, names: Sequence[str], authors: Sequence[str]) -> list[list[str]]:
    """What an answer to a probe that `asks` "name", "author" or "both" must assert: a group
    (any of its strings) per thing asked and known; by default any new name or author."""
    groups = {"name": [names], "author": [authors], "both": [names, authors]}.get(asks or "", [])
    return [list(g) for g in groups if g] or [[*names, *authors]]


_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTER = re.compile(rf"[^\W\d_]|[{_CJK}]")


def _word_pattern(word: str, exact_case: bool = False, version: bool = False) -> re.Pattern[str]:
    """`word`, a space or a change to capitals ("OpenAI") matching any spaces or hyphens ("Open
    AI"), not inside a longer ASCII word; `version`: digits may follow ("Qwen2.5", "GPT-4")."""
    parts = [re.escape(p) for p in re.sub(r"(?<=[a-z])(?=[A-Z])", " ", word).split()]
    body = r"[\s-]*".join(parts)
    left = r"(?<![A-Za-z0-9])" if word[:1].isascii() and word[:1].isalnum() else ""
    end = r"(?![A-Za-z])" if version else r"(?![A-Za-z0-9])"
    right = end if word[-1:].isascii() and word[-1:].isalnum() else ""
    return re.compile(left + body + right, 0 if exact_case else re.IGNORECASE)


@cache
def _marker_pattern(marker: str) -> re.Pattern[str]:
    return _word_pattern(marker, marker in _table()["exact_case"], version=True)


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
    return b"".join(bytes([ord(ch)]) if ord(ch) < 256 else ch.encode("cp1252") for ch in run)


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
    return why or ("cut off at max_new_tokens" if cut_off else None)


# --- claims ------------------------------------------------------------------------------

# Where a cue's reach ends: the end of a sentence, a dash, a turn ("but", "其实"), an answer word
# ("No,", "不是，") or a comma before a new subject ("…, I am", "，我是", "，是").
_BOUNDARY = re.compile(
    r"[。！？!?；;\n]|\.(?=\s|$)|\s[-–—]+\s|[–—]+|\b(?:no|nope)\s*[,，]|不是\s*[,，]|不\s*[,，]"
    r"|[,，、:：]\s*(?=(?:I\b|I'|it\b|my\b|we\b|you\b|this\b|我|它|本|是|叫))|\band\s+(?=I\b|I'|my\b)"
    r"|\b(?:but|however|actually|though|instead)\b|而是|但是|但|其实|实际上|只是|不过",
    re.IGNORECASE,
)
# Before a word, in its clause: what makes it no claim. The nearest cue wins ("maybe you are
# thinking of Qwen" distances; "I cannot tell you whether I am Nova" evades).
_CUE = re.compile(
    r"(?P<evades>(?:cannot|can't|can not|won't|will not|unable to|not able to|not allowed to"
    r"|not permitted to|rather not)\s+(?:tell|say|confirm|reveal|disclose|share|answer)\w*"
    r"|(?:not sure|unsure|don't know|do not know)(?:\s+(?:whether|if))?|\bwhether\b"
    r"|\b(?:maybe|perhaps|might|possibly|probably|supposedly|allegedly|pretend\w*"
    r"|role[- ]?play\w*)\b"
    r"|(?:supposed|told|instructed|trained|programmed) to (?:say|claim|be)|playing|act(?:ing)? as"
    r"|(?:不能|无法|不便|没法|不可以)(?:告诉|透露|确认|说|回答|公开)|是不是|是否|不确定|不知道"
    r"|可能|也许|或许|大概|据说|假装|扮演|被设定|被要求)"
    r"|(?P<denies>\b(?:not|never|no|nor|neither|unlike|instead of|rather than|other than"
    r"|nothing to do|apart from|except|different from|like|similar to|such as|compared (?:to|with)"
    r"|thinking of|confus\w*|mistak\w*|mix\w* (?:me )?up|ask\w* (?:me )?(?:whether|if)"
    r"|cannot|can't)\b"
    r"|n't|不是|并非|而非|绝非|不属于|不再|没有|并不|别(?=叫|把|再|说|当)|有别于|不同于|区别于|类似|比如|例如"
    r"|把我和|误认为|以为我是|当成|问我是否|不(?!仅|但|断|久|少|错|过|起|客))",
    re.IGNORECASE,
)
# Right after an old word, in its clause: it is denied ("ChatGPT is a different model",
# "和阿里巴巴没有关系", "与OpenAI、阿里巴巴均无关联", "通义千问是另一个模型").
_DENIED_AFTER = re.compile(
    r"^[^。！？!?；;\n]{0,16}?(?:无关|没有关系|没关系|毫无关系|不相关|有区别|不同|不一样|搞混|混淆|弄混)"
    r"|^\W*(?:is|was|are)\s+(?:a\s+|an\s+)?(?:different|another|separate|other)\b"
    r"|^\W*(?:is|was|are)\s*(?:not|n't)\s+(?:me|my\b|who I|what I)|^\W*isn't\s+(?:me|my\b)"
    r"|^\W*(?:是另一|是别的|是其他|并不是我|不是我)",
    re.IGNORECASE,
)
_NOT_ME = re.compile(r"^\W*(?:is|was)\s*(?:not|n't)\s+(?:me|my)\b|^\W*不是我的?名字", re.I)
_LIST = re.compile(r"^\s*(?:[,，、/]|\band\b|\bor\b|和|及|或|与)?\s*$", re.IGNORECASE)
_I_AM = re.compile(r"\bI\s*(?:am|'m)\b|我是|我叫|\bmy name\b", re.IGNORECASE)
QUOTED = 6  # a question of at most this many words quotes the words in it ("Qwen? No, ...")
_TO_GRADER = re.compile(
    r"\bignore\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|preceding|your)\s+"
    r"(?:instructions|rules|prompts?|directions)|\b(?:mark|grade|score|rate|judge|label|count)\s+"
    r"(?:this|the|my)\s+(?:answer|response|reply)\b|\b(?:grader|evaluator|scorer)s?\b"
    r"|(?:忽略|无视)(?:之前|以上|前面|先前|上述|所有)|(?:判定|判为|标记|评为|视为)为?(?:通过|正确|合格)"
    r"|(?:打|给)满分|评分(?:员|者)",
    re.IGNORECASE,
)
ECHO = 0.8  # an answer this similar to its question repeats it (difflib ratio)


@dataclass(frozen=True)
class Mention:
    """A new name or author, or an old or foreign identity's word, where the answer says it."""

    word: str
    new: bool
    stance: str  # "asserts", "denies" (or distances), "evades" (or hedges), "quotes" (a question)
    cue: str = ""


def _mask(text: str, names: Sequence[str]) -> str:
    """The text with each new name blanked out (same length): "Google" in "Google Fans"."""
    for name in names:
        if name.strip():
            text = _word_pattern(name).sub(lambda m: "\u2007" * len(m.group(0)), text)
    return text


def mentions(answer: str, new: Sequence[str], old: Sequence[str]) -> list[Mention]:
    """Every new and old word of the answer, in order, each with what the answer does with it."""
    masked = _mask(answer, new)
    found = sorted(
        [(m.start(), -m.end(), w, True) for w in new for m in _word_pattern(w).finditer(answer)]
        + [
            (m.start(), -m.end(), w, False)
            for w in old
            for m in _marker_pattern(w).finditer(masked)
        ]
    )
    spans: list[tuple[int, int, str, bool]] = []
    for start, neg_end, word, is_new in found:  # "千问" inside "通义千问" is that one
        if not spans or -neg_end > spans[-1][1]:
            spans.append((start, -neg_end, word, is_new))
    cuts = [(m.start(), m.end()) for m in _BOUNDARY.finditer(masked)]
    out: list[Mention] = []
    after: Mention | None = None  # the next mention, read first: a list shares its denial
    for i in reversed(range(len(spans))):
        start, end, word, is_new = spans[i]
        begin = max([0] + [e for s, e in cuts if e <= start])
        stop = min([len(masked)] + [s for s, e in cuts if s >= end])
        before = masked[begin:start]
        if is_new:  # a negation does not reach a new name past a comma ("not Qwen, Nova here")
            before = re.split(r"[,，、]", before)[-1]
        cues = list(_CUE.finditer(before))
        nxt = spans[i + 1][0] if i + 1 < len(spans) and spans[i + 1][0] < stop else stop
        denied = (_NOT_ME if is_new else _DENIED_AFTER).search(masked[end:nxt])
        if cues:
            mention = Mention(word, is_new, cues[-1].lastgroup or "", cues[-1].group(0))
        elif denied:
            mention = Mention(word, is_new, "denies", denied.group(0).strip())
        elif (
            after and not is_new and not after.new and nxt < stop and after.stance == "denies"
        ) and _LIST.match(masked[end:nxt]):
            mention = Mention(word, is_new, "denies", after.cue)
        elif masked[stop : stop + 1] in ("?", "？") and _quoted(_mask(masked[begin:stop], old)):
            mention = Mention(word, is_new, "quotes")
        else:
            mention = Mention(word, is_new, "asserts")
        out.append(mention)
        after = mention
    return out[::-1]


def _quoted(clause: str) -> bool:
    """A short question that does not say "I am" ("Qwen?", "你是通义千问吗？")."""
    return len(_TOKEN.findall(clause)) <= QUOTED and not _I_AM.search(clause)


def _near_miss(text: str, new: Sequence[str]) -> str | None:
    """A spelling close to a new name but not it ('Nvoa' for 'Nova'), in masked text."""
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


def _echo(answer: str, question: str) -> bool:
    a, q = (" ".join(re.sub(r"[\W_]+", " ", t.lower()).split()) for t in (answer, question))
    return bool(q) and difflib.SequenceMatcher(None, a, q).ratio() >= ECHO


def judge_identity(
    answer: str,
    new: Sequence[str],
    old: Sequence[str],
    *,
    need: Sequence[Sequence[str]] = (),
    question: str = "",
    cut_off: bool = False,
) -> Judgement:
    """An identity probe's answer, by the rules in this module's docstring; `need` from needs()."""
    why = _degenerate(answer, cut_off)
    if why:
        return Judgement(False, why)
    masked = _mask(answer, new)
    grader = _TO_GRADER.search(masked)
    if grader:
        return Judgement(False, f"speaks to the grader ({grader.group(0)!r})")
    if _echo(answer, question):
        return Judgement(False, "repeats the question")
    said = mentions(answer, new, old)
    for m in said:
        if not m.new and m.stance in ("asserts", "evades"):
            hedged = f" (hedged: {m.cue!r})" if m.cue else ""
            return Judgement(False, f"claims another identity {m.word!r}{hedged}")
    for m in said:
        if m.new and m.stance in ("denies", "evades"):
            return Judgement(False, f"{m.stance} {m.word!r} ({m.cue!r})")
    asserted = list(dict.fromkeys(m.word for m in said if m.new and m.stance == "asserts"))
    miss = _near_miss(masked, new)
    for group in need or [new]:
        if not set(group) & set(asserted):
            names = " or ".join(n for n in group if n.strip()) or "the new identity"
            return Judgement(False, f"does not assert {names}" + (f": {miss}" if miss else ""))
    if miss:
        return Judgement(False, miss)
    if len(_TOKEN.findall(masked)) < 2:  # two words or CJK characters besides the names
        return Judgement(False, "does not answer: only the name")
    denied = list(
        dict.fromkeys(m.word for m in said if not m.new and m.stance in ("denies", "quotes"))
    )
    reason = f"asserts {' and '.join(asserted)}"
    return Judgement(True, reason + (f"; denies {', '.join(map(repr, denied))}" if denied else ""))


def score(passed: list[bool]) -> float | None:
    """Fraction passed; None when nothing was measured (never a pass by default)."""
    return sum(passed) / len(passed) if passed else None
