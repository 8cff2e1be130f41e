"""Reading a recipe file: TOML with line numbers, then the JSON schema, as located findings."""

from __future__ import annotations

import re
import sys
from functools import cache

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from pathlib import Path
from typing import TYPE_CHECKING

from swiftkit.errors import Finding, MiB, SwiftkitError, did_you_mean, refuse_unless_file
from swiftkit.resources import schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


def locate(text: str, path: list) -> int | None:
    """The 1-based line of a key path such as ['train', 'learning_rate'] in TOML text."""
    if not path:
        return None
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\s*" + re.escape(str(path[0])) + r"\s*\]\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None or len(path) == 1 or not isinstance(path[1], str):
        return None if start is None else start + 1
    key = re.compile(r"^\s*\"?" + re.escape(str(path[1])) + r"\"?\s*=")
    for j in range(start + 1, len(lines)):
        if lines[j].lstrip().startswith("["):
            break
        if key.match(lines[j]):
            return j + 1
    return start + 1


@cache
def _recipe_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator, validators

    # 8.0 is an integer to JSON Schema; ms-swift's argparse refuses it ("invalid int value")
    whole = Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _, v: type(v) is int)
    return validators.extend(Draft202012Validator, type_checker=whole)(schema("recipe"))


MAX_RECIPE = MiB  # a recipe is a page of TOML
SHAPE_FIX = (
    "a recipe is sections of keys whose values are text, numbers, true/false or lists of those"
)
BOUNDS = {"exclusiveMinimum": ">", "exclusiveMaximum": "<", "minimum": ">=", "maximum": "<="}


def shown(value: object) -> str:
    """A value as a finding quotes it: repr, escapes visible, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def schema_findings(data: dict, text: str, source: str) -> list[Finding]:
    findings = []
    for err in sorted(_recipe_validator().iter_errors(data), key=lambda e: list(map(str, e.path))):
        path = list(err.path)
        keypath = ".".join(map(str, path)) or "(top level)"
        fix, message = None, err.message[:300]
        if err.validator == "additionalProperties":
            known = list(err.schema.get("properties", {}))
            extra = [k for k in err.instance if k not in known]
            for key in extra:
                where = f"[{keypath}]" if path else "the top level"
                findings.append(
                    Finding.error(
                        source,
                        f"unknown key '{key}' in {where}",
                        line=locate(text, path + [key]),
                        field=".".join(map(str, path + [key])),
                        fix=f"{did_you_mean(key, known)}known keys: {', '.join(known)}",
                    )
                )
            continue
        if err.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", err.message)
            fix = (
                f"add {', '.join(missing)} under [{keypath}]"
                if path
                else (f"add a [{missing[0]}] section" if missing else None)
            )
        elif err.validator in BOUNDS:
            fix = f"{keypath} must be {BOUNDS[err.validator]} {err.validator_value}"
        elif err.validator == "type":
            fix = f"{keypath} must be of type {err.validator_value}"
            if isinstance(err.instance, float) and err.instance.is_integer():
                fix = f"write {int(err.instance)}, a whole number without '.0'"
        elif err.validator in ("pattern", "not") and "$comment" in err.schema:
            why, _, fix = err.schema["$comment"].partition("|")
            message = f"{shown(err.instance)} {why}"
        elif err.validator == "maxLength":
            message = f"{len(err.instance)} characters, more than {err.validator_value}"
            fix = "shorten it"
        elif err.validator == "minItems":
            fix = f"{keypath} needs at least {err.validator_value} item(s), or remove the key"
        findings.append(
            Finding.error(source, message, line=locate(text, path), field=keypath, fix=fix)
        )
    return findings


def section_findings(name: str, section: object, source: str) -> list[Finding]:
    """One recipe section (as kept in a run's manifest) against the same schema."""
    stub = {"model": {"id": "m"}, "data": {"datasets": ["d"]}, name: section}
    return schema_findings(stub, "", source)


def parse_toml(path: Path) -> tuple[dict, str]:
    """Read a TOML file, turning syntax errors into a finding with line and column."""
    source = str(path)
    refuse_unless_file(path, "recipe", MAX_RECIPE)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise SwiftkitError(f"cannot read {source}: {exc.strerror}") from None
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf16 = raw_bytes[:2] in (b"\xff\xfe", b"\xfe\xff")  # its byte-order mark
        said = "is UTF-16, not UTF-8" if utf16 else f"byte {exc.start} is not UTF-8"
        raise SwiftkitError.at(
            f"{source} is not UTF-8", source, said, fix="save as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise SwiftkitError.at(
            f"{source} is not a usable recipe",
            source,
            "nested too deep for the TOML reader (hundreds of levels)",
            fix=SHAPE_FIX,
        ) from None
    except ValueError as exc:
        if not isinstance(exc, tomllib.TOMLDecodeError):  # e.g. a 5,000-digit integer
            long = re.search(r"\d{4300}", text)
            raise SwiftkitError.at(
                f"{source} is not a usable recipe",
                source,
                "a number with more than 4300 digits"
                if long
                else f"a value TOML cannot hold: {exc}"[:160],
                line=text.count("\n", 0, long.start()) + 1 if long else None,
                fix="numbers have at most 4300 digits; write text in double quotes",
            ) from None
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        raise SwiftkitError.at(
            f"{source} is not valid TOML",
            source,
            f"TOML syntax: {exc}",
            line=int(m.group(1)) if m else None,
            fix="strings need quotes, sections look like [train], keys like name = value",
        ) from None
    return data, text
