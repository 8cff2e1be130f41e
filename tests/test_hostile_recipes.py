"""Issue 22: recipes that validated clean, then failed in ms-swift at launch (after the model
load on a GPU host) or trained on nothing; each is refused by `validate`, located by field."""

from __future__ import annotations

import json

import pytest
from conftest import DATASETS, write_recipe

from swiftkit.cli import main
from swiftkit.msswift.command import argv_from_flags

MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
NOVA = 'name = "Nova"\nauthor = "Lumen Lab"'


def refused(tmp_path, capsys, field: str, **parts: str) -> str:
    parts.setdefault("identity", NOVA)
    recipe = write_recipe(tmp_path / "r.toml", MODEL, [DATASETS / "identity_full.json"], **parts)
    assert main(["validate", str(recipe)]) == 1
    out = capsys.readouterr().out
    assert f"{recipe}:" in out and field in out, out
    return out


@pytest.mark.parametrize(
    ("train", "field"),
    [
        ("lora_rank = 8.0", "lora_rank"),  # ms-swift: invalid int value: '8.0'
        ("max_steps = -5", "max_steps"),
        ("num_train_epochs = 0.001", "num_train_epochs"),  # not one optimizer step
        ("strict = false", "strict"),  # a flag swiftkit manages
        ('resume_from_checkpoint = "no/such/checkpoint-9"', "resume_from_checkpoint"),
        ("target_modules = []", "target_modules"),
    ],
)
def test_train_values_ms_swift_would_refuse_are_refused(tmp_path, capsys, train, field):
    recipe = write_recipe(tmp_path / "r.toml", MODEL, [DATASETS / "identity_full.json"], "", NOVA)
    text = recipe.read_text(encoding="utf-8")
    if "epochs" in train:  # write_recipe sets 30 epochs: this replaces it
        text = text.replace("num_train_epochs = 30", train)
    else:
        text = text.replace("save_steps = 80", f"save_steps = 80\n{train}")
    recipe.write_text(text, encoding="utf-8")
    assert main(["validate", str(recipe)]) == 1
    out = capsys.readouterr().out
    assert f"{recipe}:" in out and field in out, out


def test_nproc_as_a_float_is_refused(tmp_path, capsys):
    refused(tmp_path, capsys, "nproc_per_node", extra="[launch]\nnproc_per_node = 2.0")


@pytest.mark.parametrize(
    "identity",
    [
        'name = "Nova\\n[launch]"\nauthor = "Lumen Lab"',  # a newline in a name
        'name = "{{NAME}}"\nauthor = "Lumen Lab"',  # a name that is itself the placeholder
        f'name = "{"N" * 3000}"\nauthor = "Lumen Lab"',
        'name = "Nova"\nauthor = "Lumen \\u001b[31mLab"',  # ANSI escape: the printed line lies
    ],
)
def test_names_that_are_not_names_are_refused(tmp_path, capsys, identity):
    refused(tmp_path, capsys, "identity.", identity=identity)


def test_a_placeholder_in_a_verify_question_is_refused(tmp_path, capsys):
    refused(tmp_path, capsys, "questions", extra='[verify]\nquestions = ["Are you {{NAME}}?"]')


def test_a_dataset_that_never_says_the_identity_is_refused(tmp_path, capsys):
    """self_cognition.json names "CSDN 迪菲赫尔曼" and has no placeholders: training on it with
    the identity Nova gave no "training" probes and NO VERDICT after a whole run."""
    data = [DATASETS / "self_cognition.json"]
    recipe = write_recipe(tmp_path / "r.toml", MODEL, data, identity=NOVA)
    assert main(["validate", str(recipe)]) == 1
    out = capsys.readouterr().out
    assert "Nova" in out and f"{recipe}:" in out


def test_questions_differing_in_case_or_question_mark_conflict(tmp_path, capsys):
    rows = [
        {"instruction": "Who are you?", "output": "I am {{NAME}}."},
        {"instruction": "who are  you？", "output": "I am someone else, by {{AUTHOR}}."},
    ]
    data = tmp_path / "d.json"
    data.write_text(json.dumps(rows), encoding="utf-8")
    assert main(["validate", str(data)]) == 1
    out = capsys.readouterr().out
    assert "record 2" in out and "same question" in out


@pytest.mark.parametrize("value", ["-Nova", "--help"])
def test_a_value_starting_with_a_dash_is_rendered_as_a_value(value):
    """ms-swift's argparse read `--model_name -Nova` as a flag ("expected one argument")."""
    import argparse

    argv = argv_from_flags("sft", {"model_name": [value], "system": value})[2:]
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name", nargs="+")
    parser.add_argument("--system")
    got = parser.parse_args(argv)
    assert got.model_name == [value] and got.system == value


@pytest.mark.parametrize("preset", ["../data/init_recipe", "../recipes/tiny-cpu", "cpu\\n[launch]"])
def test_a_preset_is_a_shipped_name_never_a_path(tmp_path, capsys, preset):
    """`preset = "../data/init_recipe"` loaded another TOML file of the package as a preset's
    flags (any file a path reached); a newline in the name was printed raw, a second line."""
    recipe = write_recipe(tmp_path / "r.toml", MODEL, [DATASETS / "identity_full.json"], "", NOVA)
    text = recipe.read_text(encoding="utf-8").replace('preset = "cpu"', f'preset = "{preset}"')
    recipe.write_text(text, encoding="utf-8")
    assert main(["validate", str(recipe)]) == 1
    out = capsys.readouterr().out
    assert f"{recipe}:" in out and "does not exist" in out and "known presets" in out, out
    assert "\n[launch]" not in out


def test_a_utf16_recipe_is_named_utf16(tmp_path, capsys):
    """A recipe saved as UTF-16 (Windows Notepad's "Unicode") was "byte 0 is not UTF-8"."""
    recipe = write_recipe(tmp_path / "r.toml", MODEL, [DATASETS / "identity_full.json"], "", NOVA)
    recipe.write_bytes(recipe.read_text(encoding="utf-8").encode("utf-16"))
    assert main(["validate", str(recipe)]) == 1
    out = capsys.readouterr().out
    assert "is UTF-16, not UTF-8" in out and "save as UTF-8" in out, out
