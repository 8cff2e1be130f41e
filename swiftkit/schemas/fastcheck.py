"""A fast yes/no check compiled from a JSON schema, so jsonschema runs only to explain.

jsonschema takes ~0.1 ms per record and ~0.1 s to import; `swiftkit validate` must answer in
well under a second on 10,000 records. `compile_schema` turns the small subset of JSON Schema
that swiftkit's schemas use into a plain predicate with the same answer (a property test holds
it to jsonschema's). A valid file never imports jsonschema; an invalid record or recipe is
then validated by jsonschema, whose errors become located findings. A schema using anything
else compiles to None and jsonschema checks everything.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any, TypeGuard

Check = Callable[[object], bool]

ANNOTATIONS = {"$schema", "$id", "title", "description", "default", "examples"}
KEYWORDS = {
    "type",
    "enum",
    "pattern",
    "minLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minItems",
}


def _is_number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    # jsonschema counts 2.0 as an integer
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
}


BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": operator.ge,
    "maximum": operator.le,
    "exclusiveMinimum": operator.gt,
    "exclusiveMaximum": operator.lt,
}


def _bounded(cmp: Callable[[Any, Any], bool], bound: object) -> Check:
    return lambda v: not _is_number(v) or cmp(v, bound)


def _enum_member(v: object, allowed: list) -> bool:
    for a in allowed:
        if isinstance(a, bool) or isinstance(v, bool):
            if isinstance(a, bool) and isinstance(v, bool) and a == v:
                return True
        elif a == v and type(a) in (str, int, float, type(None)):
            return True
    return False


def compile_schema(schema: object) -> Check | None:
    """A predicate equal to `jsonschema.validate(...) succeeds`, or None if unsupported."""
    if schema is True:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, dict) or set(schema) - KEYWORDS - ANNOTATIONS:
        return None
    checks: list[Check] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not all(k in TYPES for k in kinds):
            return None
        preds = [TYPES[k] for k in kinds]
        checks.append(lambda v: any(p(v) for p in preds))
    if "enum" in schema:
        allowed = schema["enum"]
        if not all(isinstance(a, str | int | float | bool | type(None)) for a in allowed):
            return None
        checks.append(lambda v: _enum_member(v, allowed))
    if "pattern" in schema:
        rx = re.compile(schema["pattern"])
        checks.append(lambda v: not isinstance(v, str) or rx.search(v) is not None)
    if "minLength" in schema:
        low = schema["minLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) >= low)
    for key, cmp in BOUNDS.items():
        if key in schema:
            checks.append(_bounded(cmp, schema[key]))
    if "minItems" in schema:
        low = schema["minItems"]
        checks.append(lambda v: not isinstance(v, list) or len(v) >= low)
    if "items" in schema:
        item = compile_schema(schema["items"])
        if item is None:
            return None
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    if "required" in schema:
        req = list(schema["required"])
        checks.append(lambda v: not isinstance(v, dict) or all(k in v for k in req))
    if "properties" in schema or "additionalProperties" in schema:
        props: dict[str, Check] = {}
        for key, sub in schema.get("properties", {}).items():
            compiled = compile_schema(sub)
            if compiled is None:
                return None
            props[key] = compiled
        extra = compile_schema(schema.get("additionalProperties", True))
        if extra is None:
            return None

        def check_props(v: object) -> bool:
            if not isinstance(v, dict):
                return True
            for k, x in v.items():
                if not props.get(k, extra)(x):
                    return False
            return True

        checks.append(check_props)
    return lambda v: all(c(v) for c in checks)
