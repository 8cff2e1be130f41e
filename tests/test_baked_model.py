"""A hub id resolves to a model baked into the container image ($SWIFTKIT_MODELS_DIR)."""

from __future__ import annotations

import json

from conftest import RECIPES, swiftkit


def test_hub_id_uses_the_baked_folder(tmp_path, tiny_model):
    baked = tmp_path / "Qwen2.5-7B-Instruct"
    baked.symlink_to(tiny_model, target_is_directory=True)
    proc = swiftkit(
        "render",
        "--json",
        str(RECIPES / "identity.toml"),
        env={"SWIFTKIT_MODELS_DIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    argv = json.loads(proc.stdout)["argv"]
    assert argv[argv.index("--model") + 1] == str(baked.resolve())
    assert argv[argv.index("--check_model") + 1] == "false"
    assert argv[argv.index("--template") + 1] == "qwen2_5"


def test_missing_baked_model_names_folder_and_fixes(tmp_path):
    proc = swiftkit(
        "run", str(RECIPES / "identity.toml"), env={"SWIFTKIT_MODELS_DIR": str(tmp_path)}
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    for needle in [
        f"{tmp_path}/Qwen2.5-7B-Instruct",
        "MODEL_ID=Qwen/Qwen2.5-7B-Instruct",
        "identity.toml:",
        "model.id",
        "-v /path/to/Qwen2.5-7B-Instruct",
    ]:
        assert needle in proc.stderr, needle


def test_without_the_variable_a_hub_id_stays_a_hub_id(tmp_path):
    proc = swiftkit(
        "render", "--json", str(RECIPES / "identity.toml"), env={"SWIFTKIT_MODELS_DIR": ""}
    )
    argv = json.loads(proc.stdout)["argv"]
    assert argv[argv.index("--model") + 1] == "Qwen/Qwen2.5-7B-Instruct"
