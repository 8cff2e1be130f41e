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

    from swiftkit.recipe import parse

    findings = parse.schema_findings(value, "", "r.toml")
    assert (findings == []) == parse._recipe_validator().is_valid(value)


# Hostile inputs (issue 13): whatever the bytes, depth, size, encoding or path length, every
# file ends as findings, and none of them is validate's last-resort "could not check" finding.
def _deep(n: int) -> str:
    return '{"instruction": "q", "output": ' + "[" * n + "]" * n + "}"


GOOD = '{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}。"}'
HOSTILE_TEXT = st.one_of(
    st.integers(1, 6000).map(_deep),
    st.integers(1, 6000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: "[" + '{"a":' * n + "1" + "}" * n + "]"),
    st.integers(4200, 6000).map(lambda n: '{"instruction": "q", "output": ' + "9" * n + "}"),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1).map(
        lambda t: json.dumps({"instruction": t, "input": "", "output": "a"})
    ),
    st.text(max_size=40).map(lambda t: json.dumps({"instruction": t, "output": t + "\0"})),
    st.sampled_from(["{NAME}", "{{NAME}", "${NAME}", "<NAME>", "{{{NAME}}}", "%NAME%"]).map(
        lambda p: json.dumps({"instruction": "q", "input": "", "output": p})
    ),
    st.sampled_from(['{"a": 1, "a": 2}', "// c", "[1,]", '{"data": [{}]}', "\ufeff" + GOOD]),
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1", "gb18030"])
HOSTILE_FILE = st.one_of(
    st.binary(max_size=300),
    st.lists(HOSTILE_TEXT, min_size=1, max_size=3).map(lambda ls: "\n".join([GOOD, *ls])),
    st.tuples(st.text(max_size=60), ENCODINGS).map(lambda t: t[0].encode(t[1], errors="ignore")),
)
FUZZ = settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _never_raises(path: Path) -> None:
    from swiftkit.commands import validate

    findings = validate.check(path)  # raises nothing, or the test fails
    internal = [f for f in findings if validate.INTERNAL in f.message]
    assert not internal, internal[0].format()


@FUZZ
@given(content=HOSTILE_FILE, suffix=st.sampled_from(["json", "jsonl"]))
def test_hostile_datasets_end_as_findings(content, suffix, tmp_path):
    path = tmp_path / f"d.{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "replace"))
    _never_raises(path)


HOSTILE_VALUES = st.one_of(
    st.integers(1, 2500).map(lambda n: "[" * n + "]" * n),
    st.integers(4200, 6000).map(lambda n: "9" * n),
    st.sampled_from(["nan", "inf", "-inf", "1e9", "1e999", '"\\ud800"', '"a\\u0000b"']),
    st.integers(200, 400).map(lambda n: json.dumps("x" * n)),
    st.integers(200, 400).map(lambda n: json.dumps(["d" * n + ".jsonl"])),
    st.sampled_from(['["q_proj", 3]', '"cosinus"', '["d.json#0"]', '["d.json#-5"]', '"/proc/x"']),
)


def _recipe(where: tuple[str, str], value: str) -> str:
    sections: dict[str, dict[str, str]] = {
        "model": {"id": '"m"'},
        "data": {"datasets": '["d.json"]'},
        "identity": {},
        "train": {},
        "verify": {},
    }
    sections[where[0]][where[1]] = value
    return "\n".join(
        f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())
        for name, keys in sections.items()
    )


HOSTILE_RECIPES = st.builds(
    _recipe,
    st.sampled_from(
        [
            ("model", "id"),
            ("data", "datasets"),
            ("train", "output_dir"),
            ("train", "learning_rate"),
            ("train", "num_train_epochs"),
            ("train", "lora_alpha"),
            ("train", "lora_dropout"),
            ("train", "target_modules"),
            ("train", "lr_scheduler_type"),
            ("train", "max_length"),
            ("identity", "name"),
            ("verify", "identity_probes"),
        ]
    ),
    HOSTILE_VALUES,
)


@settings(max_examples=600, deadline=None)
@given(text=HOSTILE_RECIPES)
def test_hostile_recipes_end_as_findings(text):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "d.json").write_text("[" + GOOD + "]", encoding="utf-8")
        path = Path(tmp) / "r.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _never_raises(path)
