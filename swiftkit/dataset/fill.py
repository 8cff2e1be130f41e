"""{{NAME}} and {{AUTHOR}}: the placeholders a dataset may hold, filled from the recipe's
[identity]; findings for the ones that cannot be filled, before and after filling."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from swiftkit.dataset.read import Fields, Record
from swiftkit.errors import Finding

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
FILLS = {"NAME": "name", "AUTHOR": "author"}
# Something that looks like a placeholder in another form: {NAME}, {{NAME}, ${NAME}, <NAME>,
# %NAME%, {{{NAME}}}, $AUTHOR, ... (checked only in text that holds one of these marks).
NEAR = re.compile(r"(?P<pre>[{<$%]*)(?P<word>[A-Za-z][\w-]*)(?P<post>[}>%]*)")
# The same in braces with a space inside ({ NAME }, {{NAME }); a match without one is NEAR's.
SPACED = re.compile(r"(?P<pre>\{+)\s*(?P<word>[A-Za-z][\w-]*)\s*(?P<post>\}+)")
MARKS = frozenset("{}<>$%")
WELL_FORMED = re.compile(r"(?<!\{)\{\{\s*(?:NAME|AUTHOR)\s*\}\}(?!\})", re.IGNORECASE)
Identity = Mapping[str, str]  # {"name": ..., "author": ...}, as Identity.fills() gives
TEXT_KEYS = frozenset(("system", "instruction", "input", "output", "query", "response"))


def answer_fields(value: object) -> dict[str, str]:
    """Field path -> text, for the fields placeholders may appear in."""
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
    spaced = [m for m in SPACED.finditer(text) if any(c.isspace() for c in m.group(0))]
    near = NEAR.finditer(text)
    found = spaced + [m for m in near if not any(o.start() <= m.start() < o.end() for o in spaced)]
    # plain words, and {{...}} (PLACEHOLDER's, checked below), are not typos
    return [
        (m.group(0), meant)
        for m in found
        if (m["pre"] or m["post"])
        and not (m["pre"] == "{{" and m["post"] == "}}")
        and (meant := placeholder_like(m["word"]))
    ]


def _plain_strings(value: dict) -> bool:
    """True when every value is a string whose only marks are exact {{NAME}}/{{AUTHOR}}: such
    a record needs no placeholder finding. (Any other form leaves a brace or a sign behind
    after the exact ones are removed, and takes the full path.)"""
    return all(
        type(text) is str
        and MARKS.isdisjoint(text.replace("{{NAME}}", "").replace("{{AUTHOR}}", ""))
        for text in value.values()
    )


def placeholder_findings(
    records: Sequence[Record[object]], source: str, identity: Identity | None
) -> list[Finding]:
    """Placeholders swiftkit cannot fill: unknown names, or known ones the recipe lacks
    (identity=None: no recipe, so known names are accepted)."""
    found: list[Finding] = []
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
            found += [
                rec.error(
                    source,
                    f"'{written}' looks like the placeholder {{{{{meant}}}}} but is not "
                    "filled: it would be trained literally",
                    fld,
                    f"write {{{{{meant}}}}} in place of {written}",
                )
                for written, meant in typos(text)
            ]
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
                found.append(rec.error(source, message, fld, fix))
    return found


def fill(text: str, identity: Identity) -> str:
    return PLACEHOLDER.sub(
        lambda m: identity.get(FILLS.get(m.group(1).upper(), ""), "") or m.group(0), text
    )


def fill_record(value: object, identity: Identity) -> Any:
    if isinstance(value, str):
        return fill(value, identity)
    if isinstance(value, list):
        return [fill_record(v, identity) for v in value]
    if isinstance(value, dict):
        return {k: fill_record(v, identity) for k, v in value.items()}
    return value


def leftover_findings(
    records: Sequence[Record[Fields]], source: str, identity: Identity
) -> list[Finding]:
    """After filling, no {{...}} may remain (e.g. a name that itself contains braces)."""
    findings = []
    for rec in records:
        for fld, text in answer_fields(rec.value).items():
            keys = [FILLS.get(m.group(1).upper()) for m in PLACEHOLDER.finditer(text)]
            fillable = keys and all(k and identity.get(k) for k in keys)
            if fillable and (left := PLACEHOLDER.search(fill(text, identity))):
                message = f"'{left.group(0)}' remains after filling from [identity]"
                fix = "the [identity] name and author must not contain {{...}}"
                findings.append(rec.error(source, message, fld, fix))
    return findings


def says_identity(records: Sequence[Record[Fields]], identity: Identity) -> bool:
    """Some record's text holds {{NAME}}/{{AUTHOR}} or the identity's name or author."""
    words = [w.casefold() for w in identity.values() if w]
    for rec in records:
        for text in answer_fields(rec.value).values():
            low = text.casefold()
            if WELL_FORMED.search(text) or any(w in low for w in words):
                return True
    return False
