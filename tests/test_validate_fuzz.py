"""Property tests: arbitrary JSON and TOML never crash `swiftkit validate` (exit 0 or 1), and
every record or recipe the schema rejects gets a located finding (none when it accepts)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from conftest import DATASETS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swiftkit.cli import main
from swiftkit.dataset.read import Record
from swiftkit.dataset.records import branch_validators, record_findings

KEYS = ["instruction", "input", "output", "system", "messages", "role", "content", "ouput", "x"]
TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "{{NAME}}", "{{author}}", "{{X}}", "你是谁?", "user", "assistant"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), inner, max_size=5),
    ),
    max_leaves=20,
)
# Records close to valid ones, so the checks past the schema (duplicates, placeholders, turn
# order) are reached too.
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "bot"]), "content": TEXT}
)
NEAR = st.one_of(
    st.dictionaries(st.sampled_from(["instruction", "input", "output", "system"]), TEXT),
    st.fixed_dictionaries({"messages": st.lists(MESSAGE, max_size=4)}),
)
RECORDS = st.lists(st.one_of(NEAR, JSON), max_size=6)
SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _validate(name: str, content: bytes) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        return main(["validate", str(path)])


@SETTINGS
@given(records=RECORDS, as_jsonl=st.booleans())
def test_arbitrary_json_records_never_crash(records, as_jsonl, capsys):
    if as_jsonl:
        content = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
        code = _validate("d.jsonl", content.encode())
    else:
        code = _validate("d.json", json.dumps(records, ensure_ascii=False, indent=1).encode())
    assert code in (0, 1)
    assert "Traceback" not in capsys.readouterr().err


@SETTINGS
@given(content=st.binary(max_size=200), suffix=st.sampled_from(["json", "jsonl", "toml"]))
def test_arbitrary_bytes_never_crash(content, suffix, capsys):
    assert _validate(f"f.{suffix}", content) in (0, 1)


SECTIONS = ["model", "identity", "data", "train", "verify", "launch", "modle"]
TOML_KEYS = [
    "id", "name", "author", "datasets", "preset", "learning_rate", "lora_rank", "max_length",
    "num_train_epochs", "output_dir", "trust_remote_code", "build", "gradient_accumulation_steps",
    "per_device_train_batch_size", "lora_rnak", "questions",
]  # fmt: skip
TOML_VALUES = st.one_of(
    st.integers(-3, 40).map(str),
    st.sampled_from(["0.0001", "-1.5", "true", "false", "[]", '["x"]', "ten"]),
    st.sampled_from(
        [
            '"Qwen/Qwen2.5-7B-Instruct"',
            '"../datasets/self_cognition.json"',
            '["../datasets/self_cognition.json"]',
            '["hub/ds#5"]',
            '"24gb"',
            '"cpu"',
            '"{{NAME}}"',
            '"/proc/nope"',
            '"."',
        ]
    ),
    st.text(max_size=10).map(json.dumps),
)
TOML_TEXT = st.lists(
    st.tuples(
        st.sampled_from(SECTIONS),
        st.lists(st.tuples(st.sampled_from(TOML_KEYS), TOML_VALUES), max_size=5),
    ),
    max_size=5,
).map(
    lambda sections: "\n".join(
        f"[{s}]\n" + "\n".join(f"{k} = {v}" for k, v in kv) for s, kv in sections
    )
)


@SETTINGS
@given(text=TOML_TEXT)
def test_arbitrary_toml_recipes_never_crash(text, capsys):
    # Next to a copy of a shipped dataset, so relative dataset paths sometimes resolve.
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "datasets").mkdir()
        (Path(tmp) / "recipes").mkdir()
        shutil.copy(DATASETS / "self_cognition.json", Path(tmp) / "datasets")
        path = Path(tmp) / "recipes" / "r.toml"
        path.write_text(text, encoding="utf-8")
        assert main(["validate", str(path)]) in (0, 1)


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(NEAR, JSON))
def test_every_record_the_schema_rejects_gets_a_finding(value):
    kind = "messages" if isinstance(value, dict) and "messages" in value else "alpaca"
    valid = isinstance(value, dict) and branch_validators()[kind].is_valid(value)
    findings = record_findings([Record(1, 1, value)], "d.jsonl")
    if not valid:
        assert any(f.is_error and f.record == 1 for f in findings), value


RECIPE_VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.sampled_from(["Qwen/Qwen2.5-7B-Instruct", "24gb", "tiny", 0, 1, 16, 1e-4, -1, 2.0]),
)
RECIPE_DICTS = st.dictionaries(
    st.sampled_from(SECTIONS),
    st.one_of(
        st.dictionaries(st.sampled_from(TOML_KEYS), RECIPE_VALUES, max_size=6),
        SCALARS,
    ),
    max_size=6,
)


# Mostly-valid recipes: a minimal valid one with random sections merged in.
NEAR_RECIPES = st.tuples(
    st.dictionaries(st.sampled_from(TOML_KEYS), RECIPE_VALUES, max_size=4),
    st.sampled_from(["train", "model", "identity", "verify"]),
).map(
    lambda t: {
        "model": {"id": "Qwen/Qwen2.5-7B-Instruct"},
        "data": {"datasets": ["d.json"]},
        **{t[1]: {**({"id": "m"} if t[1] == "model" else {}), **t[0]}},
    }
)


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(RECIPE_DICTS, NEAR_RECIPES))
def test_schema_findings_explain_every_invalid_recipe(value):
    from jsonschema import Draft202012Validator

    from swiftkit.recipe import parse
    from swiftkit.resources import schema

    findings = parse.schema_findings(value, "", "r.toml")
    assert (findings == []) == Draft202012Validator(schema("recipe")).is_valid(value)
