"""Identity datasets: read (JSON array or JSONL), check, fill {{NAME}}/{{AUTHOR}}, write a copy.

Every finding carries the file, the line where the record starts, the record number (1-based)
and the field, so the user can go straight to it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from swiftkit.errors import Finding
from swiftkit.resources import SCHEMAS
from swiftkit.schemas.fastcheck import compile_schema

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
FILLS = {"NAME": "name", "AUTHOR": "author"}


@dataclass
class Record:
    number: int  # 1-based position in the file
    line: int  # line where the record starts
    value: object


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_records(path: Path) -> tuple[list[Record], list[Finding]]:
    """Parse a JSON array or JSONL file, keeping the line where each record starts."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], [Finding.error(source, "file not found", fix="check the path")]
    except OSError as exc:
        return [], [Finding.error(source, f"cannot read: {exc.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return [], [
            Finding.error(source, f"not UTF-8 (byte {exc.start})", line=line, fix="save as UTF-8")
        ]
    if not text.strip():
        return [], [
            Finding.error(
                source,
                "the file is empty",
                fix="add records such as "
                '{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}。"}',
            )
        ]
    if text.lstrip().startswith("[") and not path.suffix == ".jsonl":
        return _read_array(text, source)
    return _read_jsonl(text, source)


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _read_array(text: str, source: str) -> tuple[list[Record], list[Finding]]:
    decoder = json.JSONDecoder()
    records: list[Record] = []
    pos = text.index("[") + 1
    n = 0
    ws = re.compile(r"\s*")
    line, counted = 1, 0  # line number at offset `counted`, advanced as records are read
    while True:
        pos = ws.match(text, pos).end()
        if pos < len(text) and text[pos] == "]":
            rest = text[pos + 1 :].strip()
            if rest:
                return records, [
                    Finding.error(
                        source,
                        "text after the closing ']'",
                        line=_line_at(
                            text, pos + 1 + (len(text[pos + 1 :]) - len(text[pos + 1 :].lstrip()))
                        ),
                        fix="remove it, or write one JSON object per line as .jsonl",
                    )
                ]
            return records, []
        n += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return records, [
                Finding.error(
                    source,
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    line=exc.lineno,
                    record=n,
                    fix="the file is cut off or has a typo here; every record needs its closing }"
                    " and records are separated by commas",
                )
            ]
        line += text.count("\n", counted, pos)
        counted = pos
        records.append(Record(n, line, value))
        pos = ws.match(text, end).end()
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            continue
        return records, [
            Finding.error(
                source,
                "expected ',' or ']' after the record"
                + (" but the file ends" if pos >= len(text) else ""),
                line=_line_at(text, min(pos, len(text))),
                record=n,
                fix="add a comma between records, or the closing ']' at the end",
            )
        ]


def _read_jsonl(text: str, source: str) -> tuple[list[Record], list[Finding]]:
    records: list[Record] = []
    findings: list[Finding] = []
    n = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        n += 1
        try:
            records.append(Record(n, lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            findings.append(
                Finding.error(
                    source,
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    line=lineno,
                    record=n,
                    fix="JSONL holds one complete JSON object per line",
                )
            )
    return records, findings


def answer_fields(value: dict) -> dict[str, str]:
    """The text fields of a record that placeholders may appear in, by field path."""
    out: dict[str, str] = {}
    if not isinstance(value, dict):
        return out
    for key in ("system", "instruction", "input", "output", "query", "response"):
        if isinstance(value.get(key), str):
            out[key] = value[key]
    msgs = value.get("messages")
    if isinstance(msgs, list):
        for i, m in enumerate(msgs):
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                out[f"messages[{i}].content"] = m["content"]
    return out


def placeholder_findings(
    records: list[Record], source: str, identity: dict | None
) -> list[Finding]:
    """Placeholders swiftkit cannot fill: unknown names, or known ones the recipe lacks
    (identity=None: no recipe, so known names are accepted)."""
    findings = []
    for rec in records:
        for fld, text in answer_fields(rec.value).items():
            for m in PLACEHOLDER.finditer(text):
                key = m.group(1).upper()
                if key not in FILLS:
                    findings.append(
                        Finding.error(
                            source,
                            f"unknown placeholder '{m.group(0)}'",
                            line=rec.line,
                            record=rec.number,
                            field=fld,
                            fix="only {{NAME}} and {{AUTHOR}} are filled (from the recipe's "
                            "[identity]); write the text itself instead",
                        )
                    )
                elif identity is not None and not identity.get(FILLS[key]):
                    findings.append(
                        Finding.error(
                            source,
                            f"'{m.group(0)}' needs [identity] {FILLS[key]} in the recipe",
                            line=rec.line,
                            record=rec.number,
                            field=fld,
                            fix=f'add under [identity]: {FILLS[key]} = "..."',
                        )
                    )
    return findings


def fill(text: str, identity: dict) -> str:
    def sub(m: re.Match) -> str:
        key = m.group(1).upper()
        value = identity.get(FILLS.get(key, ""), "")
        return value or m.group(0)

    return PLACEHOLDER.sub(sub, text)


def fill_record(value: object, identity: dict) -> object:
    if isinstance(value, str):
        return fill(value, identity)
    if isinstance(value, list):
        return [fill_record(v, identity) for v in value]
    if isinstance(value, dict):
        return {k: fill_record(v, identity) for k, v in value.items()}
    return value


class _LazyValidator:
    """jsonschema's validator for one schema, imported and built on first use only."""

    def __init__(self, schema: dict):
        self.schema = schema
        self._validator = None

    def _get(self):
        if self._validator is None:
            from jsonschema import Draft202012Validator

            self._validator = Draft202012Validator(self.schema)
        return self._validator

    def is_valid(self, value: object) -> bool:
        return self._get().is_valid(value)

    def iter_errors(self, value: object):
        return self._get().iter_errors(value)


@cache
def _branch_validators() -> dict:
    """(fast check, jsonschema validator) per record format (alpaca, messages) of
    identity.schema.json.

    Validating against the branch the record is written in gives one precise error per
    problem, where the schema's oneOf would only say "not valid under any of the schemas".
    """
    schema = json.loads((SCHEMAS / "identity.schema.json").read_text(encoding="utf-8"))
    alpaca, messages = schema["oneOf"]
    out = {}
    for kind, sub in (("alpaca", alpaca), ("messages", messages)):
        validator = _LazyValidator(sub)
        out[kind] = (compile_schema(sub) or validator.is_valid, validator)
    return out


def _type_name(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _field_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _schema_error_finding(err, rec: Record, source: str, kind: str) -> Finding | list[Finding]:
    """A jsonschema error -> a finding that says what was expected and how to fix it."""
    fld = _field_path(err.path) or None
    where = dict(line=rec.line, record=rec.number)
    if err.validator == "required":
        # jsonschema reports each missing property as its own error, named in the message.
        named = re.match(r"^'(.+)' is a required property$", err.message)
        instance = err.instance if isinstance(err.instance, dict) else {}
        missing = [k for k in err.validator_value if k not in instance]
        name = named.group(1) if named else (missing[0] if missing else "?")
        sub = (fld + "." if fld else "") + name
        if name == "output":
            fix = "ms-swift would drop this record silently and train anyway; add the answer"
        elif name == "instruction":
            fix = "add the question"
        else:
            fix = f"add '{name}'"
        return Finding.error(source, f"missing '{name}'", field=sub, fix=fix, **where)
    if err.validator == "additionalProperties":
        known = list(err.schema.get("properties", {}))
        out = []
        for key in err.instance:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            sub = (fld + "." if fld else "") + key
            what = "alpaca records have instruction, input, output, system"
            if kind == "messages":
                what = (
                    "a messages record has only 'messages'"
                    if not fld
                    else "each message has role and content"
                )
            out.append(
                Finding.error(
                    source,
                    f"unknown field '{key}'",
                    field=sub,
                    fix=(f"did you mean '{close[0]}'? " if close else "") + what,
                    **where,
                )
            )
        return out
    if err.validator == "type":
        expected = {"string": "a string", "object": "an object", "array": "a list"}
        return Finding.error(
            source,
            f"expected {expected.get(err.validator_value, err.validator_value)}, "
            f"got {_type_name(err.instance)}",
            field=fld,
            fix="write the text in double quotes" if err.validator_value == "string" else None,
            **where,
        )
    if err.validator == "pattern":
        return Finding.error(
            source,
            "empty or whitespace only",
            field=fld,
            fix=f"write the {fld.split('.')[-1]}" if fld else None,
            **where,
        )
    if err.validator == "enum":
        return Finding.error(
            source,
            f"expected one of {', '.join(map(str, err.validator_value))}, got {err.instance!r}",
            field=fld,
            fix="roles are system, user and assistant",
            **where,
        )
    if err.validator == "minItems":
        return Finding.error(
            source,
            f"expected at least {err.validator_value} turns, got {len(err.instance)}",
            field=fld,
            fix='write a user turn and the assistant\'s answer: [{"role": "user", "content": '
            '"..."}, {"role": "assistant", "content": "..."}]',
            **where,
        )
    return Finding.error(source, err.message, field=fld, **where)


def _messages_order(rec: Record, source: str) -> list[Finding]:
    """What the schema cannot say: system only first, a user turn, the assistant last."""
    msgs = rec.value["messages"]
    out = []

    def add(msg: str, fld: str, fix: str) -> None:
        out.append(Finding.error(source, msg, line=rec.line, record=rec.number, field=fld, fix=fix))

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
    for i in range(1, len(roles)):
        if roles[i] == roles[i - 1] and roles[i] in ("user", "assistant"):
            add(
                f"two {roles[i]} turns in a row",
                f"messages[{i}].role",
                "user and assistant turns alternate",
            )
    return out


def record_findings(records: list[Record], source: str) -> list[Finding]:
    """Schema first (identity.schema.json), then what a schema cannot say.

    ms-swift silently drops a record with no answer and trains anyway; here it is an error.
    """
    validators = _branch_validators()
    findings: list[Finding] = []
    for rec in records:
        v = rec.value
        if not isinstance(v, dict):
            findings.append(
                Finding.error(
                    source,
                    f"expected a JSON object, got {_type_name(v)}",
                    line=rec.line,
                    record=rec.number,
                    field=None,
                    fix='write {"instruction": "...", "input": "", "output": "..."}',
                )
            )
            continue
        kind = "messages" if "messages" in v else "alpaca"
        fast, validator = validators[kind]
        errors = [] if fast(v) else list(validator.iter_errors(v))
        for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
            made = _schema_error_finding(err, rec, source, kind)
            findings += made if isinstance(made, list) else [made]
        if kind == "messages" and not errors:
            findings += _messages_order(rec, source)
    return findings


def _question_key(value: dict) -> tuple | None:
    """(system, question turns) of a valid record, for duplicate detection."""
    if "messages" in value:
        msgs = value["messages"]
        return ("messages", tuple((m["role"], m["content"].strip()) for m in msgs[:-1]))
    return (
        "alpaca",
        value.get("system", "").strip(),
        value["instruction"].strip(),
        value.get("input", "").strip(),
    )


def _answer(value: dict) -> str:
    return value["messages"][-1]["content"] if "messages" in value else value["output"]


def duplicate_findings(records: list[Record], source: str) -> list[Finding]:
    """The same question with two answers teaches two identities (error); a repeated record
    only weighs more (warning). Only records that passed the other checks are compared."""
    seen: dict[tuple, Record] = {}
    findings = []
    for rec in records:
        try:
            key = _question_key(rec.value)
            answer = _answer(rec.value).strip()
        except (KeyError, TypeError, AttributeError, IndexError):
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = rec
            continue
        fld = "output" if key[0] == "alpaca" else f"messages[{len(rec.value['messages']) - 1}]"
        if _answer(first.value).strip() == answer:
            findings.append(
                Finding.warning(
                    source,
                    f"exact duplicate of record {first.number} (line {first.line})",
                    line=rec.line,
                    record=rec.number,
                    field=fld,
                    fix="remove it unless you mean to weigh it twice",
                )
            )
        else:
            findings.append(
                Finding.error(
                    source,
                    f"same question as record {first.number} (line {first.line}) with a "
                    "different answer: the model would learn two identities",
                    line=rec.line,
                    record=rec.number,
                    field=fld,
                    fix="keep one answer per question, or reword the question",
                )
            )
    return findings


def leftover_findings(records: list[Record], source: str, identity: dict) -> list[Finding]:
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


# --- length -------------------------------------------------------------------------------

CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
TURN_OVERHEAD = 5  # <|im_start|>role\n ... <|im_end|>\n in Qwen's chat template


def record_texts(value: dict, system: str | None) -> list[str]:
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
        self.tokenizer = None
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
        out: list[int | None] = []
        todo: set[str] = set()
        for texts in records:
            bound = sum(len(t.encode("utf-8")) for t in texts) + TURN_OVERHEAD * len(texts)
            if limit is not None and bound <= limit:
                out.append(bound)
            else:
                out.append(None)
                todo.update(texts)
        if not todo:
            return out  # type: ignore[return-value]
        unique = sorted(todo)
        if self.tokenizer is not None:
            encoded = self.tokenizer.encode_batch(unique, add_special_tokens=False)
            sizes = {t: len(e.ids) for t, e in zip(unique, encoded, strict=True)}
        else:
            sizes = {t: estimate_tokens(t) for t in unique}
        return [
            n if n is not None else sum(sizes[t] for t in texts) + TURN_OVERHEAD * len(texts)
            for n, texts in zip(out, records, strict=True)
        ]

    def count(self, texts: list[str], limit: int | None = None) -> int:
        return self.count_many([texts], limit)[0]


def length_findings(
    records: list[Record],
    source: str,
    max_length: int,
    counter: TokenCounter,
    system: str | None = None,
    identity: dict | None = None,
    recipe_note: str = "max_length",
) -> list[Finding]:
    """Records longer than max_length: ms-swift truncates or drops them, and on a 24 GB card
    the longest record is what runs out of memory."""
    findings = []
    measured: list[tuple[Record, list[str]]] = []
    for rec in records:
        try:
            measured.append((rec, record_texts(fill_record(rec.value, identity or {}), system)))
        except (KeyError, TypeError, AttributeError, IndexError):
            continue
    counts = counter.count_many([texts for _, texts in measured], limit=max_length)
    for (rec, _), n in zip(measured, counts, strict=True):
        if n > max_length:
            findings.append(
                Finding.error(
                    source,
                    f"{n} tokens with the chat template, more than {recipe_note} = "
                    f"{max_length} ({counter.how})",
                    line=rec.line,
                    record=rec.number,
                    field="messages" if "messages" in rec.value else "output",
                    fix="shorten or split the record, or raise max_length under [train] if the "
                    "GPU has room (over-long records are the usual cause of out-of-memory)",
                )
            )
    return findings


def check_file(
    path: Path,
    identity: dict | None,
    max_length: int | None = None,
    counter: TokenCounter | None = None,
    system: str | None = None,
) -> tuple[list[Record], list[Finding]]:
    """Read and check one dataset file; returns the records and all findings.

    identity=None means "no recipe": {{NAME}}/{{AUTHOR}} are accepted without a value.
    """
    source = str(path)
    records, findings = read_records(path)
    if not records and not findings:
        findings.append(
            Finding.error(
                source,
                "no records",
                line=1,
                fix='add records such as {"instruction": "你是谁?", "input": "", '
                '"output": "我是{{NAME}}。"}',
            )
        )
    structural = record_findings(records, source)
    findings += structural
    bad = {f.record for f in structural if f.severity == "error"}
    good = [r for r in records if r.number not in bad]
    findings += duplicate_findings(good, source)
    findings += placeholder_findings(records, source, identity)
    if identity is not None:
        findings += leftover_findings(good, source, identity)
    if max_length:
        findings += length_findings(
            good, source, max_length, counter or TokenCounter(), system, identity
        )
    findings.sort(key=lambda f: (f.line or 0, f.record or 0))
    return records, findings


def render_copy(path: Path, identity: dict, out_dir: Path, name: str | None = None) -> Path:
    """Write the dataset with placeholders filled into out_dir as JSONL; return its path."""
    records, _ = read_records(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (name or path.stem + ".jsonl")
    with target.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(fill_record(rec.value, identity), ensure_ascii=False) + "\n")
    return target
