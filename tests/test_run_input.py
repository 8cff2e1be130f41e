"""Bad input stops `swiftkit run` before ms-swift starts: exit 1, located message, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import DATASETS, assert_clean_failure, swiftkit, write_recipe


def no_run_started(tmp_path: Path) -> bool:
    out = tmp_path / "output"
    return not out.exists() or not any(out.iterdir())


def test_missing_recipe_file(tmp_path):
    proc = swiftkit("run", str(tmp_path / "nope.toml"))
    assert_clean_failure(proc, "nope.toml", "not found")


def test_invalid_recipe_names_file_line_and_key(tmp_path, tiny_model):
    r = write_recipe(
        tmp_path / "r.toml", tiny_model, [DATASETS / "self_cognition.json"], train="lora_rank = 0"
    )
    proc = swiftkit("run", str(r))
    line = next(i for i, t in enumerate(r.read_text().splitlines(), 1) if "lora_rank = 0" in t)
    assert_clean_failure(proc, f"{r}:{line}", "train.lora_rank", "must be >= 1")
    assert no_run_started(tmp_path)


def test_unknown_section_key_gets_did_you_mean(tmp_path, tiny_model):
    r = write_recipe(tmp_path / "r.toml", tiny_model, [DATASETS / "self_cognition.json"])
    r.write_text(r.read_text().replace("[identity]", "[identiy]"))
    proc = swiftkit("run", str(r))
    assert_clean_failure(proc, "unknown key 'identiy'", "did you mean 'identity'")


def test_record_without_answer_is_an_error_not_a_silent_drop(tmp_path, tiny_model):
    data = tmp_path / "data.json"
    records = json.loads((DATASETS / "self_cognition.json").read_text(encoding="utf-8"))
    del records[2]["output"]
    data.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    line = data.read_text(encoding="utf-8").splitlines().index("  {") + 1  # first record's line
    r = write_recipe(tmp_path / "r.toml", tiny_model, [data])
    proc = swiftkit("run", str(r))
    assert_clean_failure(proc, str(data), "record 3", "field 'output'", "missing 'output'")
    assert f"{data}:{line + 2 * 5}:" in proc.stderr  # record 3 starts 10 lines after record 1
    assert no_run_started(tmp_path)


def test_missing_dataset_file(tmp_path, tiny_model):
    r = write_recipe(tmp_path / "r.toml", tiny_model, [tmp_path / "gone.json"])
    proc = swiftkit("run", str(r))
    assert_clean_failure(proc, "dataset file not found", "gone.json", "data.datasets[0]")


def test_missing_model_folder(tmp_path):
    r = write_recipe(tmp_path / "r.toml", tmp_path / "no-model", [DATASETS / "self_cognition.json"])
    proc = swiftkit("run", str(r))
    assert_clean_failure(proc, "model folder not found", "model.id")


def test_placeholder_without_identity_is_refused(tmp_path, tiny_model):
    data = tmp_path / "d.jsonl"
    data.write_text(
        '{"instruction": "你是谁?", "input": "", "output": "我是{{NAME}}"}\n', encoding="utf-8"
    )
    r = write_recipe(tmp_path / "r.toml", tiny_model, [data], identity="")
    proc = swiftkit("run", str(r))
    assert_clean_failure(proc, f"{data}:1", "{{NAME}}", "[identity]")


def test_truncated_json_is_located(tmp_path, tiny_model):
    data = tmp_path / "d.json"
    text = (DATASETS / "self_cognition.json").read_text(encoding="utf-8")
    data.write_text(text[: len(text) // 2], encoding="utf-8")
    r = write_recipe(tmp_path / "r.toml", tiny_model, [data])
    proc = swiftkit("run", str(r))
    assert_clean_failure(proc, str(data), "invalid JSON", "record")


def test_dry_run_prints_command_and_starts_nothing(tmp_path, tiny_model):
    r = write_recipe(tmp_path / "r.toml", tiny_model, [DATASETS / "self_cognition.json"])
    proc = swiftkit("run", str(r), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("swift sft --model ")
    assert no_run_started(tmp_path)


def test_validate_and_run_report_a_probe_file_with_the_same_findings(tmp_path, tiny_model):
    """One list of checks for both: before, `run` read the probe files with a check of its
    own, so a missing one lost the recipe's line and field that `validate` named."""
    bad = tmp_path / "probes.jsonl"
    bad.write_text('{"id": "a", "messages": [{"role": "user", "content": "hi"}]}\n{oops\n')
    for probe, needle in (("gone.jsonl", "identity probe file not found"), (bad, "not JSON")):
        r = write_recipe(
            tmp_path / "r.toml",
            tiny_model,
            [DATASETS / "self_cognition.json"],
            extra=f'[verify]\nidentity_probes = ["{probe}"]',
        )
        checked = swiftkit("validate", str(r))
        assert checked.returncode == 1 and needle in checked.stdout, checked.stdout
        found = [line for line in checked.stdout.splitlines() if ": error: " in line]
        ran = swiftkit("run", "--dry-run", str(r))
        assert_clean_failure(ran, *found)
        assert no_run_started(tmp_path)
