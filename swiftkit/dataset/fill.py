"""{{NAME}} and {{AUTHOR}}: the placeholders a dataset may hold, filled from the recipe's
[identity]; findings for the ones that cannot be filled, before and after filling."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from swiftkit.dataset.read import Fields, Record
from swiftkit.errors import Finding

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
FILLS = {"NAME": "name", "AUTHOR": "author"}
# Something that looks like a placeholder in another form: {NAME}, {{NAME}, ${NAME}, <NAME>,
# %NAME%, {{{NAME}}}, $AUTHOR, ... (checked only in text that holds one of these marks).
NEAR = re.compile(r"(?P<pre>[{<$%]*)(?P<word>[A-Za-z][\w-]*)(?P<post>[}>%]*)")
SPACED = re.compile(
    r"(?P<pre>\{+)\s+(?P<word>[A-Za-z][\w-]*)\s*(?P<post>\}+)|"
    r"(?P<pre2>\{+)(?P<word2>[A-Za-z][\w-]*)\s+(?P<post2>\}+)"
)
MARKS = frozenset("{}<>$%")
WELL_FORMED = re.compile(r"(?<!\{)\{\{\s*(?:NAME|AUTHOR)\s*\}\}(?!\})", re.IGNORECASE)
Identity = Mapping[str, str]  # {"name": ..., "author": ...}, as Identity.fills() gives


TEXT_KEYS = frozenset(("system", "instruction", "input", "output", "query", "response"))


def answer_fields(value: object) -> dict[str, str]:
    """The text fields of a record that placeholders may appear in, by field path."""
    if not isinstance(value, dict):
        return {}
    out = {k: v for k, v in value.items() if k in TEXT_KEYS and type(v) is str}
    msgs = value.get("messages")
    if isinstance(msgs, list):
        for i, m in enumerate(msgs):
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                out[f"messages[{i}].content"] = m["content"]
    return out


def placeholder_like(word: str) -> str | None:
    """NAME or AUTHOR when `word` is one of them in any case or a near miss (NAMEE, AUTH0R)."""
    from swiftkit.errors import closest

    return closest(word.upper(), FILLS, cutoff=0.8)


def typos(text: str) -> list[tuple[str, str]]:
    """(as written, the placeholder meant) for each mistyped {{NAME}}/{{AUTHOR}} in text."""
    if MARKS.isdisjoint(text) or MARKS.isdisjoint(WELL_FORMED.sub("", text)):
        return []  # the common case: no mark, or only well-formed {{NAME}}/{{AUTHOR}}
    out = []
    spaced = list(SPACED.finditer(text))
    found = [
        (m.group("pre") or m.group("pre2"), m.group("word") or m.group("word2"),
         m.group("post") or m.group("post2"), m.group(0))
        for m in spaced
    ]  # fmt: skip
    found += [
        (m.group("pre"), m.group("word"), m.group("post"), m.group(0))
        for m in NEAR.finditer(text)
        if not any(o.start() <= m.start() < o.end() for o in spaced)
    ]
    for pre, word, post, written in found:
        if not (pre or post) or (pre == "{{" and post == "}}"):
            continue  # plain words, and {{...}} (PLACEHOLDER's, checked below)
        meant = placeholder_like(word)
        if meant:
            out.append((written, meant))
    return out


def _plain_strings(value: dict) -> bool:
    """True when every value is a string whose only marks are exact {{NAME}}/{{AUTHOR}}: such
    a record needs no placeholder finding. (Any other form leaves a brace or a sign behind
    after the exact ones are removed, and takes the full path.)"""
    for text in value.values():
        if type(text) is not str:
            return False
        if not MARKS.isdisjoint(text.replace("{{NAME}}", "").replace("{{AUTHOR}}", "")):
            return False
    return True


def placeholder_findings(
    records: Sequence[Record[object]], source: str, identity: Identity | None
) -> list[Finding]:
    """Placeholders swiftkit cannot fill: unknown names, or known ones the recipe lacks
    (identity=None: no recipe, so known names are accepted)."""
    findings = []
    # Well-formed placeholders need no finding when there is no recipe or it fills both.
    all_filled = identity is None or all(identity.get(v) for v in FILLS.values())
    for rec in records:
        v = rec.value
        if all_filled and type(v) is dict and _plain_strings(v):
            continue  # the common case, decided at C speed (a file of a million records)
        for fld, text in answer_fields(v).items():
            if MARKS.isdisjoint(text) or (
                all_filled and MARKS.isdisjoint(WELL_FORMED.sub("", text))
            ):
                continue  # decided without the loops below
            for written, meant in typos(text):
                findings.append(
                    Finding.error(
                        source,
                        f"'{written}' looks like the placeholder {{{{{meant}}}}} but is not "
                        "filled: it would be trained literally",
                        line=rec.line,
                        record=rec.number,
                        field=fld,
                        fix=f"write {{{{{meant}}}}} in place of {written}",
                    )
                )
            for m in PLACEHOLDER.finditer(text):
                key = m.group(1).upper()
                if key not in FILLS:
                    near = placeholder_like(key)
                    message = f"unknown placeholder '{m.group(0)}'"
                    fix = (
                        f"write {{{{{near}}}}} in place of {m.group(0)}"
                        if near
                        else "only {{NAME}} and {{AUTHOR}} are filled (from the recipe's "
                        "[identity]); write the text itself instead"
                    )
                elif identity is not None and not identity.get(FILLS[key]):
                    message = f"'{m.group(0)}' needs [identity] {FILLS[key]} in the recipe"
                    fix = f'add under [identity]: {FILLS[key]} = "..."'
                else:
                    continue
                findings.append(
                    Finding.error(
                        source, message, line=rec.line, record=rec.number, field=fld, fix=fix
                    )
                )
    return findings


def fill(text: str, identity: Identity) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1).upper()
        value = identity.get(FILLS.get(key, ""), "")
        return value or m.group(0)

    return PLACEHOLDER.sub(sub, text)


def fill_record(value: object, identity: Identity) -> object:
    """The JSON value with every string filled."""
    if isinstance(value, str):
        return fill(value, identity)
    if isinstance(value, list):
        return [fill_record(v, identity) for v in value]
    if isinstance(value, dict):
        return {k: fill_record(v, identity) for k, v in value.items()}
    return value


def filled(rec: Record[Fields], identity: Identity) -> Fields:
    """A checked record's fields, filled."""
    return {k: fill_record(v, identity) for k, v in rec.value.items()}


def leftover_findings(
    records: Sequence[Record[Fields]], source: str, identity: Identity
) -> list[Finding]:
    """After filling, no {{...}} may remain (e.g. a name that itself contains braces)."""
    findings = []
    for rec in records:
        for fld, text in answer_fields(rec.value).items():
            if not PLACEHOLDER.search(text):
                continue
            fillable = all(
                FILLS.get(m.group(1).upper()) and identity.get(FILLS[m.group(1).upper()])
                for m in PLACEHOLDER.finditer(text)
            )
            left = PLACEHOLDER.search(fill(text, identity)) if fillable else None
            if left:
                findings.append(
                    Finding.error(
                        source,
                        f"'{left.group(0)}' remains after filling from [identity]",
                        line=rec.line,
                        record=rec.number,
                        field=fld,
                        fix="the [identity] name and author must not contain {{...}}",
                    )
                )
    return findings
