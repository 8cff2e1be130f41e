"""What a record must look like: identity.schema.json per record format (alpaca or messages),
then the turn order a schema cannot say. Each problem is one located finding with its fix."""

from __future__ import annotations

import itertools
import re
from array import array
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from swiftkit.dataset.jsontext import field_path
from swiftkit.dataset.read import Record
from swiftkit.errors import Finding, did_you_mean
from swiftkit.resources import schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError


@cache
def branch_validators() -> dict[str, Draft202012Validator]:
    """A validator per branch of identity.schema.json: the branch a record is written in gives
    one precise error per problem, where oneOf would say "not valid under any of the schemas"."""
    from jsonschema import Draft202012Validator

    alpaca, messages = schema("identity")["oneOf"]
    return {"alpaca": Draft202012Validator(alpaca), "messages": Draft202012Validator(messages)}


def type_name(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


REQUIRED_FIX = {
    "output": "ms-swift would drop this record silently and train anyway; add the answer",
    "instruction": "add the question",
}
KNOWN_FIELDS = {
    "alpaca": "alpaca records have instruction, input, output, system",
    "messages": "a messages record has only 'messages'",
    "message": "each message has role and content",
}


def _schema_error_findings(
    err: ValidationError, rec: Record[object], source: str, kind: str
) -> list[Finding]:
    fld = field_path(list(err.path)) or None
    prefix = fld + "." if fld else ""
    # the error of a finished validation: its keyword, the keyword's value, the value checked
    keyword = err.validator
    wanted: Any = err.validator_value
    value: Any = err.instance
    if keyword == "required":
        # one error per missing property, named in the message: "'output' is a required property"
        name = err.message.split("'")[1]
        advice = REQUIRED_FIX.get(name, f"add '{name}'")
        return [rec.error(source, f"missing '{name}'", prefix + name, advice)]
    if keyword == "additionalProperties":
        known = list(err.schema["properties"])  # type: ignore[index]
        what = KNOWN_FIELDS["message" if kind == "messages" and fld else kind]
        return [
            rec.error(source, f"unknown field '{k}'", prefix + k, did_you_mean(k, known) + what)
            for k in value
            if k not in known
        ]
    message, fix = err.message, None
    if keyword == "type":
        expected = {"string": "a string", "object": "an object", "array": "a list"}
        message = f"expected {expected.get(wanted, wanted)}, got {type_name(value)}"
        fix = "write the text in double quotes" if wanted == "string" else None
    elif keyword == "pattern":
        invisible = sorted({f"U+{ord(c):04X}" for c in value if not c.isspace()})
        what = f" ({', '.join(invisible[:3])})" if invisible else ""
        message = f"empty, or only whitespace or invisible characters{what}"
        fix = f"write the {fld.split('.')[-1]}" if fld else None
    elif keyword == "enum":
        message = f"expected one of {', '.join(map(str, wanted))}, got {value!r}"
        fix = "roles are system, user and assistant"
    elif keyword == "minItems":
        message = f"expected at least {wanted} turns, got {len(value)}"
        fix = (
            'write a user turn and the assistant\'s answer: [{"role": "user", "content": '
            '"..."}, {"role": "assistant", "content": "..."}]'
        )
    return [rec.error(source, message, fld, fix)]


def _messages_order(rec: Record[Any], source: str) -> list[Finding]:
    """What the schema cannot say: system only first, a user turn, the assistant last."""
    msgs = rec.value["messages"]
    out = []

    def add(msg: str, fld: str, fix: str) -> None:
        out.append(rec.error(source, msg, fld, fix))

    roles = [m.get("role") if isinstance(m, dict) else None for m in msgs]
    for i, role in enumerate(roles):
        if role == "system" and i > 0:
            add("a system turn may only come first", f"messages[{i}].role", "move it to the start")
    if "user" not in roles:
        add("no user turn", "messages", "add the question as a user turn")
    if roles and roles[-1] != "assistant":
        add(
            f"the last turn must be the assistant's answer, got {roles[-1]!r}",
            f"messages[{len(msgs) - 1}].role",
            'end with {"role": "assistant", "content": "..."}',
        )
    for i, (before, role) in enumerate(itertools.pairwise(roles), start=1):
        if role == before and role in ("user", "assistant"):
            add(
                f"two {role} turns in a row",
                f"messages[{i}].role",
                "user and assistant turns alternate",
            )
    return out


@cache
def visible() -> re.Pattern[str]:
    """A character that is not whitespace or invisible: the schema's pattern for text that
    must say something, stated once in identity.schema.json."""
    alpaca = schema("identity")["oneOf"][0]
    return re.compile(alpaca["properties"]["output"]["pattern"])


ALPACA_KEYS = frozenset(("instruction", "input", "output", "system"))
ROLES = frozenset(("system", "user", "assistant"))


def surely_valid(v: object) -> bool:
    """True only for a record identity.schema.json accepts, checked without jsonschema (the
    common case of a large file: 10x faster). False means "ask jsonschema"."""
    if type(v) is not dict:
        return False
    has = visible().search
    if "messages" in v:
        msgs = v["messages"]
        return (
            len(v) == 1
            and type(msgs) is list
            and len(msgs) >= 2
            and all(
                type(m) is dict
                and len(m) == 2
                and m.get("role") in ROLES
                and type(m.get("content")) is str
                and has(m["content"]) is not None
                for m in msgs
            )
        )
    return (
        v.keys() <= ALPACA_KEYS
        and all(type(x) is str for x in v.values())
        and has(v.get("instruction", "")) is not None
        and has(v.get("output", "")) is not None
    )


def record_findings(records: list[Record[object]], source: str) -> list[Finding]:
    validators = branch_validators()
    findings: list[Finding] = []
    for rec in records:
        v = rec.value
        if not isinstance(v, dict):
            message = f"expected a JSON object, got {type_name(v)}"
            fix = 'write {"instruction": "...", "input": "", "output": "..."}'
            findings.append(rec.error(source, message, None, fix))
        elif "conversations" in v and not {"messages", "instruction"} & v.keys():
            message = (
                "a ShareGPT record ('conversations'): swiftkit reads alpaca and messages records"
            )
            fix = (
                'write {"messages": [{"role": "user", "content": "..."}, {"role": '
                '"assistant", "content": "..."}]} (from/value become role/content; human '
                "is user, gpt is assistant)"
            )
            findings.append(rec.error(source, message, "conversations", fix))
        else:
            kind = "messages" if "messages" in v else "alpaca"
            errors = [] if surely_valid(v) else list(validators[kind].iter_errors(v))
            for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
                findings += _schema_error_findings(err, rec, source, kind)
            if kind == "messages" and not errors:
                findings += _messages_order(rec, source)
    return findings


class Formats:
    """Which records of a file are alpaca and which are messages: ms-swift reads one format
    per file and drops the other's records without a word ("origin length: 10, filtered
    dataset length: 2", measured with 4.6), so a mix is an error naming the fewer ones."""

    def __init__(self) -> None:
        self.seen: dict[str, array[int]] = {"alpaca": array("q"), "messages": array("q")}

    def add(self, rec: Record[object]) -> None:
        if isinstance(rec.value, dict):
            kind = "messages" if "messages" in rec.value else "alpaca"
            self.seen[kind].extend((rec.number, rec.line))

    def findings(self, source: str) -> Iterator[Finding]:
        alpaca, messages = (len(self.seen[k]) // 2 for k in ("alpaca", "messages"))
        if not alpaca or not messages:
            return
        fewer, more = ("messages", "alpaca") if messages <= alpaca else ("alpaca", "messages")
        a_fewer, a_more = (("an " if k == "alpaca" else "a ") + k for k in (fewer, more))
        first = self.seen[more]
        numbers = self.seen[fewer]
        for i in range(0, len(numbers), 2):
            yield Finding.error(
                source,
                f"{a_fewer} record in a file of {more} records (record {first[0]}, line "
                f"{first[1]} is {more}): ms-swift reads one format per file and would drop "
                f"the {min(alpaca, messages)} {fewer} record(s) silently",
                line=numbers[i + 1],
                record=numbers[i],
                field="messages" if fewer == "messages" else "instruction",
                fix=f"rewrite it as {a_more} record, or move the {fewer} records to a file of "
                "their own and list both files under [data] datasets",
            )
