"""`swiftkit validate`: every broken file in tests/bad/ is rejected, located and explained;
every shipped recipe and dataset passes."""

from __future__ import annotations

import json

import pytest
from conftest import DATASETS, RECIPES, ROOT, swiftkit, swiftkit_process, write_recipe

from swiftkit.cli import main

BAD = ROOT / "tests" / "bad"

# file -> (the location "NAME:LINE" or "NAME" that must prefix a finding, other needles).
# A dataset finding names the record and the field; a recipe finding names the key path.
CASES: dict[str, tuple[str, ...]] = {
    # datasets
    "truncated.json": ("truncated.json:3", "record 2", "invalid JSON"),
    "missing_both.jsonl": (
        "missing_both.jsonl:2",
        "field 'instruction': missing 'instruction'",
        "field 'output': missing 'output'",
    ),
    "missing_output.json": ("missing_output.json:7", "record 2", "field 'output'", "missing"),
    "empty_output.jsonl": ("empty_output.jsonl:2", "record 2", "field 'output'", "whitespace"),
    "empty_instruction.json": ("empty_instruction.json:2", "record 1", "field 'instruction'"),
    "output_not_string.jsonl": ("output_not_string.jsonl:1", "field 'output'", "got a number"),
    "unknown_field.jsonl": ("unknown_field.jsonl:2", "field 'ouput'", "did you mean 'output'"),
    "non_object.json": ("non_object.json:3", "record 2", "expected a JSON object"),
    "empty.json": ("empty.json", "the file is empty"),
    "whitespace_only.jsonl": ("whitespace_only.jsonl", "the file is empty"),
    "empty_array.json": ("empty_array.json:1", "no records"),
    "conflicting_answers.json": (
        "conflicting_answers.json:12",
        "record 3",
        "field 'output'",
        "same question as record 1",
    ),
    "unknown_placeholder.jsonl": ("unknown_placeholder.jsonl:1", "field 'output'", "{{COMPANY}}"),
    "messages_last_user.jsonl": (
        "messages_last_user.jsonl:2",
        "record 2",
        "field 'messages[1].role'",
        "last turn must be the assistant",
    ),
    "messages_bad_role.jsonl": ("messages_bad_role.jsonl:1", "messages[0].role", "'human'"),
    "messages_empty.jsonl": ("messages_empty.jsonl:1", "field 'messages'", "at least 2 turns"),
    "messages_content_number.jsonl": (
        "messages_content_number.jsonl:1",
        "field 'messages[1].content'",
        "expected a string",
    ),
    "messages_not_list.jsonl": ("messages_not_list.jsonl:1", "field 'messages'", "a list"),
    "messages_unknown_key.jsonl": (
        "messages_unknown_key.jsonl:1",
        "messages[0].contnet",
        "did you mean 'content'",
    ),
    "messages_system_middle.jsonl": ("messages_system_middle.jsonl:1", "messages[1].role"),
    "messages_two_users.jsonl": ("messages_two_users.jsonl:1", "two user turns in a row"),
    "messages_null_content.jsonl": ("messages_null_content.jsonl:1", "got null"),
    "jsonl_bad_line.jsonl": ("jsonl_bad_line.jsonl:3", "record 3", "invalid JSON"),
    "trailing_text.json": ("trailing_text.json:4", "after the closing ']'"),
    "missing_comma.json": ("missing_comma.json:3", "record 1", "expected ',' or ']'"),
    "not_utf8.jsonl": ("not_utf8.jsonl:2", "not UTF-8"),
    "bom_missing_instruction.jsonl": (
        "bom_missing_instruction.jsonl:1",
        "record 1",
        "field 'instruction'",
        "missing 'instruction'",
    ),
    "blank_lines.jsonl": ("blank_lines.jsonl:5", "record 3", "field 'input'"),
    "instruction_list.json": ("instruction_list.json:2", "field 'instruction'", "got a list"),
    "top_level_object.json": ("top_level_object.json:2", "record 2", "invalid JSON"),
    # recipes
    "syntax_error.toml": ("syntax_error.toml:6", "TOML syntax", "column 20"),
    "unknown_section.toml": ("unknown_section.toml:4", "did you mean 'identity'"),
    "unknown_train_flag.toml": (
        "unknown_train_flag.toml:14",
        "train.lora_rnak",
        "not a `swift sft` flag",
        "did you mean 'lora_rank'",
    ),
    "unknown_key_model.toml": ("unknown_key_model.toml:3", "did you mean 'trust_remote_code'"),
    "learning_rate_zero.toml": ("learning_rate_zero.toml:14", "train.learning_rate", "> 0"),
    "epochs_negative.toml": ("epochs_negative.toml:14", "train.num_train_epochs"),
    "rank_zero.toml": ("rank_zero.toml:14", "train.lora_rank", ">= 1"),
    "rank_wrong_type.toml": ("rank_wrong_type.toml:14", "train.lora_rank", "integer"),
    "missing_dataset_file.toml": ("missing_dataset_file.toml:9", "data.datasets[0]", "not found"),
    "missing_model_section.toml": ("missing_model_section.toml", "'model' is a required"),
    "model_folder_missing.toml": ("model_folder_missing.toml:2", "model.id", "not found"),
    "model_no_weights.toml": ("model_no_weights.toml:2", "model.id", "no weights"),
    "model_no_tokenizer.toml": ("model_no_tokenizer.toml:2", "model.id", "no tokenizer"),
    "model_auto_map.toml": (
        "model_auto_map.toml:2",
        "model.trust_remote_code",
        "auto_map",
        "trust_remote_code=True",
    ),
    "model_py_file.toml": ("model_py_file.toml:2", "modeling_evil.py", "trust_remote_code"),
    "managed_flag.toml": ("managed_flag.toml:14", "train.model_name", "[identity] name"),
    "output_not_folder.toml": ("output_not_folder.toml:13", "train.output_dir", "not a folder"),
    "placeholder_no_identity.toml": (
        "identity_full.json:2",
        "record 1",
        "field 'output'",
        "needs [identity] name",
    ),
    "too_long.toml": ("identity_full.json:2", "record 1", "max_length = 16", "estimated"),
    "identity_leftover.toml": ("identity_leftover.toml:5", "identity.name", "holds {{ or }}"),
    "unknown_preset.toml": ("unknown_preset.toml:12", "train.preset", "did you mean '24gb'"),
    "dataset_errors_via_recipe.toml": ("missing_output.json:7", "record 2", "missing 'output'"),
    # issue 13: every kind of input ends as a located finding (read.py, fill.py, value_checks.py)
    "deep_nesting.jsonl": ("deep_nesting.jsonl:2", "record 2", "nested too deep"),
    "deep_nesting.json": ("deep_nesting.json:3", "record 2", "nested too deep"),
    "deep_but_parsed.jsonl": ("deep_but_parsed.jsonl:2", "record 2", "more than 16 levels"),
    "huge_number.jsonl": ("huge_number.jsonl:2", "record 2", "4300 digits under 'output'"),
    "lone_surrogate.jsonl": ("lone_surrogate.jsonl:2", "field 'instruction'", "lone surrogate"),
    "nul_escaped.jsonl": ("nul_escaped.jsonl:2", "field 'output'", "NUL character"),
    "nul_byte.jsonl": ("nul_byte.jsonl:2", "record 2", "NUL byte"),
    "random_bytes.json": ("random_bytes.json:1", "NUL byte"),
    "utf16.jsonl": ("utf16.jsonl:1", "UTF-16"),
    "latin1.jsonl": ("latin1.jsonl:2", "not UTF-8", "b'\\xe9'"),
    "folder_as_dataset.jsonl": ("folder_as_dataset.jsonl", "is a folder, not a file"),
    "single_object.json": ("single_object.json:1", "record 1", "must hold an array"),
    "single_object_pretty.jsonl": ("single_object_pretty.jsonl:1", "one record per line"),
    "data_wrapper.json": ("data_wrapper.json:1", "field 'data'", "records are under 'data'"),
    "comment_lines.jsonl": ("comment_lines.jsonl:1", "record 1", "JSON has no comments"),
    "comment_in_array.json": ("comment_in_array.json:2", "record 1", "JSON has no comments"),
    "duplicate_key.jsonl": ("duplicate_key.jsonl:2", "field 'output'", "appears twice"),
    "duplicate_key.json": ("duplicate_key.json:3", "field 'instruction'", "appears twice"),
    "trailing_comma_record.jsonl": ("trailing_comma_record.jsonl:2", "trailing comma"),
    "trailing_comma_array.json": ("trailing_comma_array.json:3", "record 1", "trailing comma"),
    "bom_every_line.jsonl": ("bom_every_line.jsonl:2", "2 line(s) start with a byte-order mark"),
    "zero_width_instruction.jsonl": (
        "zero_width_instruction.jsonl:2",
        "field 'instruction'",
        "invisible characters (U+200B)",
    ),
    "mixed_formats.jsonl": (
        "mixed_formats.jsonl:4",
        "record 4",
        "field 'messages'",
        "a messages record in a file of alpaca records",
    ),
    "sharegpt_record.jsonl": ("sharegpt_record.jsonl:2", "field 'conversations'", "ShareGPT"),
    "placeholder_single_brace.jsonl": (
        "placeholder_single_brace.jsonl:2",
        "write {{NAME}} in place of {NAME}",
    ),
    "placeholder_missing_close.jsonl": ("placeholder_missing_close.jsonl:2", "in place of {{NAME}"),
    "placeholder_missing_open.jsonl": ("placeholder_missing_open.jsonl:2", "in place of {NAME}}"),
    "placeholder_dollar.jsonl": ("placeholder_dollar.jsonl:2", "in place of ${NAME}"),
    "placeholder_dollar_bare.jsonl": (
        "placeholder_dollar_bare.jsonl:2",
        "{{AUTHOR}} in place of $AUTHOR",
    ),
    "placeholder_angle.jsonl": ("placeholder_angle.jsonl:2", "in place of <NAME>"),
    "placeholder_triple.jsonl": ("placeholder_triple.jsonl:2", "in place of {{{NAME}}}"),
    "placeholder_misspelled.jsonl": ("placeholder_misspelled.jsonl:2", "in place of {{NAMEE}}"),
    "placeholder_percent.jsonl": ("placeholder_percent.jsonl:2", "in place of %NAME%"),
    "placeholder_lower_single.jsonl": (
        "placeholder_lower_single.jsonl:2",
        "{{AUTHOR}} in place of {author}",
    ),
    "lr_nan.toml": ("lr_nan.toml:14", "train.learning_rate", "nan is not a usable number"),
    "epochs_inf.toml": ("epochs_inf.toml:14", "train.num_train_epochs", "inf is not"),
    "alpha_nan.toml": ("alpha_nan.toml:14", "train.lora_alpha", "nan is not"),
    "dropout_inf.toml": ("dropout_inf.toml:14", "train.lora_dropout", "-inf is not"),
    "epochs_absurd.toml": ("epochs_absurd.toml:14", "train.num_train_epochs", "1000000000.0"),
    "lr_above_one.toml": ("lr_above_one.toml:14", "train.learning_rate", "maximum of 1"),
    "dropout_one.toml": ("dropout_one.toml:14", "train.lora_dropout", "maximum of 1"),
    # a dropout of exactly 1 zeroes every LoRA input: the adapter can learn nothing
    "dropout_exactly_one.toml": ("dropout_exactly_one.toml:14", "train.lora_dropout", "< 1"),
    "target_modules_number.toml": ("target_modules_number.toml:14", "target_modules[1] is 3"),
    "target_modules_missing.toml": (
        "target_modules_missing.toml:14",
        "'nonexistent_proj'",
        "q_proj",
    ),
    "max_length_over_model.toml": (
        "max_length_over_model.toml:14",
        "max_position_embeddings = 128",
    ),
    "scheduler_typo.toml": (
        "scheduler_typo.toml:14",
        "train.lr_scheduler_type",
        "'cosinus'",
        "cosine",
    ),
    "optim_typo.toml": ("optim_typo.toml:14", "train.optim", "'adamw_foo'", "adamw_torch"),
    "sample_zero.toml": ("sample_zero.toml:9", "data.datasets[0]", "'#0'", "positive"),
    "sample_negative.toml": ("sample_negative.toml:9", "data.datasets[0]", "'#-5'"),
    "sample_word.toml": ("sample_word.toml:9", "data.datasets[0]", "'#abc'"),
    "dataset_twice.toml": ("dataset_twice.toml:9", "data.datasets[1]", "listed twice"),
    "dataset_folder.toml": ("dataset_folder.toml:9", "data.datasets[0]", "a folder, not a file"),
    "dataset_long_segment.toml": ("dataset_long_segment.toml:9", "data.datasets[0]", "at most 255"),
    "output_long_segment.toml": ("output_long_segment.toml:13", "train.output_dir", "at most 255"),
    "output_proc.toml": ("output_proc.toml:13", "train.output_dir", "/proc/out cannot be written"),
    "model_id_long.toml": ("model_id_long.toml:2", "model.id", "at most 255"),
    "probe_file_missing.toml": (
        "probe_file_missing.toml:16",
        "verify.identity_probes",
        "not found",
    ),
    "toml_deep.toml": ("toml_deep.toml", "nested too deep"),
    "toml_nested_arrays.toml": ("toml_nested_arrays.toml:14", "more than 8 levels"),
    "toml_huge_int.toml": ("toml_huge_int.toml:14", "4300 digits"),
    "toml_surrogate.toml": ("toml_surrogate.toml:5", "not a Unicode scalar value"),
    "toml_nul.toml": ("toml_nul.toml:14", "Illegal character"),
    "model_tokenizer_auto_map.toml": (
        "model_tokenizer_auto_map.toml:2",
        "model.trust_remote_code",
        "'auto_map' in tokenizer_config.json",
    ),
}


def test_the_corpus_is_large_and_complete():
    files = {p.name for p in BAD.iterdir() if p.is_file() or p.suffix == ".jsonl"}
    assert len(CASES) >= 30
    assert files == set(CASES), files ^ set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_is_rejected_located_and_fast(name, capsys):
    where, *needles = CASES[name]
    code = main(["validate", str(BAD / name)])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "Traceback" not in out + err
    # The location starts a finding line: "/abs/or/rel/path/NAME:LINE: error: ..."
    located = [line for line in out.splitlines() if f"{where}: error:" in line]
    assert located, f"no finding at {where} in:\n{out}"
    for needle in needles:
        assert needle in out, (needle, out)


def test_cli_child_process_exit_code_and_no_traceback():
    """The real entry point, as a user runs it: several files, all findings at once."""
    files = [BAD / "missing_output.json", BAD / "unknown_train_flag.toml", BAD / "rank_zero.toml"]
    proc = swiftkit_process("validate", *map(str, files))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    for needle in ("missing 'output'", "lora_rnak", "train.lora_rank"):
        assert needle in proc.stdout
    assert "invalid: 3 error(s)" in proc.stdout


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_recipes_pass(path, capsys):
    assert main(["validate", str(path)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("path", sorted(DATASETS.glob("*.json")), ids=lambda p: p.name)
def test_shipped_training_datasets_pass(path, capsys):
    code = main(["validate", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 error(s), 0 warning(s)" in out


def test_json_output_is_machine_readable(capsys):
    code = main(["validate", "--json", str(BAD / "conflicting_answers.json")])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["ok"] is False and report["errors"] == 1
    (finding,) = report["findings"]
    assert finding["record"] == 3 and finding["line"] == 12 and finding["field"] == "output"
    assert finding["file"].endswith("conflicting_answers.json")


def test_usage_errors_exit_2(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hi")
    assert main(["validate", str(tmp_path / "notes.txt")]) == 2
    assert main(["validate"]) == 2


def test_exact_duplicate_is_a_warning_only(tmp_path, capsys):
    rec = {"instruction": "你是谁?", "input": "", "output": "我是Swift-Robot。"}
    data = tmp_path / "d.jsonl"
    data.write_text((json.dumps(rec, ensure_ascii=False) + "\n") * 2, encoding="utf-8")
    assert main(["validate", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"{data}:2: warning: record 2" in out and "exact duplicate of record 1" in out


def test_a_repeated_key_is_found_when_strings_end_in_a_backslash(tmp_path, capsys):
    """Bug: the repeated-key check counted quote characters first and took every \\" for an
    escaped quote, so keys and values ending in a backslash hid a repeated key."""
    data = tmp_path / "d.jsonl"
    data.write_text('{"who\\\\": "Nova\\\\", "who\\\\": "Qwen\\\\"}\n', encoding="utf-8")
    assert main(["validate", "--json", str(data)]) == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert "appears twice in one object" in finding["message"]
    assert (finding["line"], finding["field"]) == (1, "who\\")


def test_findings_are_all_reported_and_capped(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text('{"instruction": "q"}\n' * 500, encoding="utf-8")
    assert main(["validate", str(data)]) == 1
    out = capsys.readouterr().out
    assert out.count("missing 'output'") == 200
    assert "and 300 more finding(s) in this file not shown" in out
    assert "invalid: 500 error(s)" in out
    assert main(["validate", "--json", str(data)]) == 1
    assert len(json.loads(capsys.readouterr().out)["findings"]) == 500


def test_trusted_remote_code_is_accepted(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    text = (BAD / "model_auto_map.toml").read_text(encoding="utf-8")
    text = text.replace('id = "models/auto-map"', f'id = "{BAD / "models/auto-map"}"')
    text = text.replace("../../datasets", str(DATASETS))
    recipe.write_text(text.replace("[identity]", "trust_remote_code = true\n\n[identity]"))
    main(["validate", str(recipe)])
    assert "ships code" not in capsys.readouterr().out


def test_old_flag_name_is_accepted_with_a_note(tmp_path, capsys):
    r = write_recipe(
        tmp_path / "r.toml", "Qwen/Qwen2.5-7B-Instruct", [DATASETS / "self_cognition.json"]
    )
    r.write_text(r.read_text().replace('preset = "cpu"', 'preset = "cpu"\ntrain_type = "lora"'))
    assert main(["validate", str(r)]) == 0
    assert "'train_type' is spelled '--tuner_type'" in capsys.readouterr().out


def test_token_length_uses_the_local_tokenizer(tmp_path, tiny_model, capsys):
    r = write_recipe(
        tmp_path / "r.toml", tiny_model, [DATASETS / "self_cognition.json"], train="max_length = 16"
    )
    assert main(["validate", str(r)]) == 1
    out = capsys.readouterr().out
    assert f"counted with {tiny_model / 'tokenizer.json'}" in out
    assert "self_cognition.json:2: error: record 1" in out


def test_too_few_records_for_one_step(tmp_path, capsys, monkeypatch):
    data = tmp_path / "d.jsonl"
    data.write_text('{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}。"}\n')
    r = write_recipe(tmp_path / "r.toml", "Qwen/Qwen2.5-7B-Instruct", [data])
    r.write_text(
        r.read_text().replace('preset = "cpu"', 'preset = "cpu"\ngradient_accumulation_steps = 4')
    )
    monkeypatch.setenv("NPROC_PER_NODE", "2")
    assert main(["validate", str(r)]) == 0  # ms-swift 4.6 trains a short step: a warning
    out = capsys.readouterr().out
    line = next(i for i, t in enumerate(r.read_text().splitlines(), 1) if "accumulation" in t)
    assert f"{r}:{line}: warning:" in out
    assert "1 usable record(s)" in out and "= 8" in out and "2 process(es)" in out


def test_run_stops_on_what_validate_finds(tmp_path):
    """`swiftkit run` runs the same data checks before anything starts."""
    r = write_recipe(
        tmp_path / "r.toml", "Qwen/Qwen2.5-7B-Instruct", [BAD / "conflicting_answers.json"]
    )
    proc = swiftkit("run", "--dry-run", str(r))
    assert proc.returncode == 1
    assert "same question as record 1" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "output").exists()


def test_schema_command_prints_the_schemas(capsys):
    for name in ("identity", "recipe"):
        assert main(["schema", name]) == 0
        printed = json.loads(capsys.readouterr().out)
        shipped = ROOT / "swiftkit" / "schemas" / f"{name}.schema.json"
        assert printed == json.loads(shipped.read_text(encoding="utf-8"))
    assert main(["schema", "other"]) == 2


def test_world_size_is_what_the_child_runs():
    """[launch] alone, and NPROC_PER_NODE/NNODES from the environment winning over it (the
    child inherits swiftkit's environment, which takes precedence over the recipe's)."""
    from swiftkit.recipe.model import LaunchSpec

    assert LaunchSpec(nproc_per_node=4).world_size({}) == 4
    assert LaunchSpec().world_size({}) == 1
    assert LaunchSpec(nproc_per_node=4, nnodes=2, master_addr="h").world_size({}) == 8
    assert LaunchSpec(nproc_per_node=4).world_size({"NPROC_PER_NODE": "2"}) == 2
    assert LaunchSpec().world_size({"NPROC_PER_NODE": "2", "NNODES": "3"}) == 6
    assert LaunchSpec(nproc_per_node=4).world_size({"NPROC_PER_NODE": "x"}) == 4


def test_conflict_across_the_recipes_files(tmp_path, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"instruction": "你是谁?", "input": "", "output": "我是A。"}\n', encoding="utf-8")
    b.write_text(
        '\n{"instruction": "你是谁?", "input": "", "output": "我是B。"}\n', encoding="utf-8"
    )
    r = write_recipe(tmp_path / "r.toml", "Qwen/Qwen2.5-7B-Instruct", [a, b])
    assert main(["validate", str(r)]) == 1
    out = capsys.readouterr().out
    assert f"{b}:2: error: record 1, field 'output': same question as record 1 of {a}" in out


def test_a_local_model_with_the_named_modules_and_room_is_accepted(tmp_path, capsys):
    """The counterpart of target_modules_missing.toml and max_length_over_model.toml."""
    text = (BAD / "target_modules_missing.toml").read_text(encoding="utf-8")
    text = text.replace('id = "models/small-qwen2"', f'id = "{BAD / "models/small-qwen2"}"')
    text = text.replace("../../datasets", str(DATASETS)).replace('"nonexistent_proj"', '"v_proj"')
    recipe = tmp_path / "r.toml"
    recipe.write_text(text + 'max_length = 128\nlr_scheduler_type = "cosine"\n')
    assert main(["validate", str(recipe)]) == 0, capsys.readouterr().out


def test_well_formed_placeholders_and_look_alikes_that_are_not_are_accepted(tmp_path, capsys):
    lines = [
        "我是{{NAME}},由{{AUTHOR}}开发。",
        "I am {{ name }}, made by {{author}}.",
        "50% of names are short; <b>name</b> is bold; it costs $5.",
    ]
    data = tmp_path / "d.jsonl"
    data.write_text(
        "".join(
            json.dumps({"instruction": f"q{i}", "input": "", "output": t}, ensure_ascii=False)
            + "\n"
            for i, t in enumerate(lines)
        ),
        encoding="utf-8",
    )
    assert main(["validate", str(data)]) == 0, capsys.readouterr().out


def test_an_identity_threshold_of_zero_is_refused(tmp_path, capsys):
    """identity_threshold = 0 printed `identity: PASS (0% of 54 probes)`: refused, located."""
    data = DATASETS / "self_cognition.json"
    recipe = write_recipe(
        tmp_path / "r.toml",
        "Qwen/Qwen2.5-7B-Instruct",
        [data],
        extra="[verify]\nidentity_threshold = 0",
    )
    assert main(["validate", str(recipe)]) == 1
    out = capsys.readouterr().out
    assert "identity_threshold" in out and "> 0" in out and f"{recipe}:" in out


def test_a_general_gate_without_general_probes_is_refused(tmp_path, capsys):
    """general_threshold with no general probes validated clean, then gave NO VERDICT."""
    data = DATASETS / "self_cognition.json"
    recipe = write_recipe(
        tmp_path / "r.toml",
        "Qwen/Qwen2.5-7B-Instruct",
        [data],
        extra="[verify]\ngeneral_max_leak = 0.1",
    )
    assert main(["validate", str(recipe)]) == 1
    out = capsys.readouterr().out
    assert "general_max_leak is set but there are no general probes" in out
    assert f"{recipe}:" in out and "general_probes" in out


@pytest.mark.parametrize(
    "identity",
    [
        'name = "Qwen"\nauthor = "Lumen Lab"',
        'name = "Nova"\nauthor = "Alibaba Cloud"',
        'name = "qwen2.5"\nauthor = "Lumen Lab"',
    ],
)
def test_an_identity_that_is_the_base_familys_own_is_refused(tmp_path, capsys, identity):
    """name = "Qwen" / author = "Alibaba Cloud" validated clean; the untouched base then passed."""
    data = DATASETS / "self_cognition.json"
    recipe = write_recipe(
        tmp_path / "r.toml", "Qwen/Qwen2.5-7B-Instruct", [data], identity=identity
    )
    assert main(["validate", str(recipe)]) == 1
    out = capsys.readouterr().out
    assert "is the base model's own (qwen" in out and "identity." in out and f"{recipe}:" in out
