"""After launch: real-looking ms-swift output lines map to advice (data/failures.json)."""

from __future__ import annotations

import json

import pytest

from swiftkit.msswift import events

# (a tail of ms-swift 4.x output, the signature id, words the advice must contain)
CASES = [
    (
        [
            "[INFO:swift] Start time of running main: 2026-11-23 18:01:02",
            "Traceback (most recent call last):",
            '  File "/venv/lib/python3.11/site-packages/swift/pipelines/base.py", line 39, in '
            "_parse_args",
            "    raise ValueError(f'remaining_argv: {remaining_argv}')",
            "ValueError: remaining_argv: ['--train_type', 'lora']",
        ],
        "unknown-flag",
        ["--train_type is spelled --tuner_type", "swiftkit validate"],
    ),
    (
        ["ValueError: remaining_argv: ['--lora_rnak', '8']"],
        "unknown-flag",
        ["did you mean --lora_rank"],
    ),
    (
        [
            "Train:   3%|▎         | 2/80 [00:09<05:51,  4.51s/it]",
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a "
            "total capacity of 23.65 GiB of which 1.12 GiB is free.",
        ],
        "cuda-oom",
        ["max_length", "swiftkit validate"],
    ),
    (
        [
            "[WARNING:swift] To avoid errors, you can pass `strict=False`.",
            "swift.template.base.MaxLengthError: Current length of row(3120) is larger than the "
            "max_length(2048).",
        ],
        "max-length",
        ["3120 tokens", "max_length = 2048", "swiftkit validate"],
    ),
    (
        [
            "pyarrow.lib.ArrowInvalid: JSON parse error: Missing a comma or '}' after an object "
            "member. in row 3",
            "datasets.exceptions.DatasetGenerationError: An error occurred while generating the "
            "dataset",
        ],
        "dataset-json",
        ["swiftkit validate"],
    ),
    (
        ["json.decoder.JSONDecodeError: Expected object or value at position 65"],
        "dataset-json",
        ["swiftkit validate"],
    ),
    (
        [
            "[WARNING:swift] To avoid errors, you can pass `strict=False`.",
            "AssertionError: message: {'role': 'bot', 'content': 'hi'}",
        ],
        "dataset-record",
        ["swiftkit validate", "record"],
    ),
    (
        # ms-swift 4.6 with MODELSCOPE_API_TOKEN set and no network (model and data local):
        # the tail of the real output. Before: "point [model] id at a local model folder".
        [
            '  File "/venv/lib/python3.11/site-packages/swift/arguments/base_args/base_args.py", '
            "line 233, in __post_init__",
            "    if self.hub.try_login(self.hub_token):",
            '  File "/venv/lib/python3.11/site-packages/swift/hub/hub.py", line 200, in try_login',
            "    api.login(token)",
            '  File "/venv/lib/python3.11/site-packages/modelscope_hub/_legacy_api.py", line 363, '
            "in login",
            "modelscope_hub.errors.NetworkError: [E1020] Connection failed: HTTPSConnectionPool("
            "host='modelscope.cn', port=443): Max retries exceeded with url: /api/v1/login "
            "(Caused by NameResolutionError(...))",
        ],
        "hub-login-offline",
        ["MODELSCOPE_API_TOKEN", "env -u MODELSCOPE_API_TOKEN swiftkit run RECIPE"],
    ),
    (
        # ms-swift 4.5.3 with the cpu preset before swiftkit rendered the flag
        ["ValueError: persistent_workers option needs num_workers > 0"],
        "persistent-workers",
        ["dataloader_persistent_workers = false", "4.5.3"],
    ),
]


@pytest.mark.parametrize("lines,sig,words", CASES, ids=[c[1] for c in CASES])
def test_known_failure_gets_advice(lines, sig, words):
    advice = events.diagnose(lines)
    assert advice is not None and advice.id == sig
    for w in words:
        assert w in advice.advice, advice.advice


def test_unknown_output_gets_no_advice():
    assert events.diagnose(["[INFO:swift] all good", "Train: 100%"]) is None


def test_the_checkpoint_comes_from_ms_swifts_record_whatever_its_path(tmp_path):
    """Before: a regex over stdout stopped at the first space, so a run under "my runs/"
    verified "/.../my" (or another run's checkpoint)."""
    run = tmp_path / "my runs ü" / "r-1"
    (run / "checkpoint-8").mkdir(parents=True)
    (run / "last-checkpoint").symlink_to(run / "checkpoint-8")
    log = run / "logging.jsonl"
    assert events.last_checkpoint(log) is None  # no record yet
    rows = [
        {"loss": 1.0, "global_step/max_steps": "8/8"},
        {"last_model_checkpoint": str(run / "last-checkpoint"), "global_step": 8},
    ]
    log.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + '\n{"torn', "utf-8")
    assert events.last_checkpoint(log) == run / "checkpoint-8"
    log.write_text(json.dumps({"last_model_checkpoint": str(run / "gone")}) + "\n", "utf-8")
    assert events.last_checkpoint(log) is None  # named but not there: the caller looks itself


def test_hub_login_while_offline_is_named_before_launch(tmp_path, tiny_model):
    """Before: with MODELSCOPE_API_TOKEN set and no network, ms-swift's start-up login failed
    after the imports and swiftkit said "point [model] id at a local model folder" although
    model and data were local."""
    import shlex

    from conftest import DATASETS, swiftkit, write_recipe

    r = write_recipe(tmp_path / "my recipe.toml", tiny_model, [DATASETS / "self_cognition.json"])
    proc = swiftkit("run", str(r), env={"MODELSCOPE_API_TOKEN": "secret"})  # offline (conftest)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "MODELSCOPE_API_TOKEN is set, so ms-swift logs in to ModelScope" in proc.stderr
    assert "SWIFTKIT_OFFLINE=1 is set" in proc.stderr
    assert f"env -u MODELSCOPE_API_TOKEN swiftkit run {shlex.quote(str(r))}" in proc.stderr
    assert "local model folder" not in proc.stderr
    assert not (tmp_path / "output").exists()
    assert swiftkit("run", "--dry-run", str(r)).returncode == 0  # without the token: fine
