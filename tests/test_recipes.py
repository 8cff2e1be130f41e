"""Every shipped recipe loads, validates and renders (like torchtune's config tests); the
mixed and seed-004 recipes render the published values."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from conftest import RECIPES, flags_of, no_gpu_env, swiftkit

from swiftkit import recipe
from swiftkit.machine import fit
from swiftkit.machine.hardware import Machine
from swiftkit.msswift import sft

SHIPPED = sorted(RECIPES.glob("*.toml"))


def test_every_published_workflow_has_a_recipe():
    names = {p.name for p in SHIPPED}
    assert {
        "identity.toml",
        "identity-mixed.toml",
        "alpaca-zh-qwen2-0.5b.toml",
        "tiny-cpu.toml",
        "tiny-cpu-mixed.toml",
        "tiny-cpu-2proc.toml",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_recipe_loads_and_renders(path: Path):
    rec, findings = recipe.check(path)
    assert rec is not None and findings == [], [f.format() for f in findings]
    rec = fit.bind(rec, Machine())  # no GPU: auto-by-gpu renders the blog's bfloat16
    specs = [str(d.path) if d.is_local else d.spec for d in rec.data.datasets]
    cmd = sft.render_sft(rec, Path("/tmp/run"), specs, "4.6.0")
    assert "auto" not in cmd.argv[cmd.argv.index("--torch_dtype") + 1]
    assert cmd.argv[:2] == ["swift", "sft"]
    assert "--tuner_type" in cmd.argv and "--train_type" not in cmd.argv
    for d in rec.data.datasets:
        assert d.is_local or d.hub_id, d.spec


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_recipe_renders_through_the_cli(path: Path):
    proc = swiftkit("render", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["argv"][:2] == ["swift", "sft"]


def render_flags(name: str) -> tuple[dict, dict]:
    proc = swiftkit("render", str(RECIPES / name), "--json")
    assert proc.returncode == 0, proc.stderr
    cmd = json.loads(proc.stdout)
    return flags_of(cmd["argv"]), cmd["env"]


def test_mixed_recipe_renders_the_blog_values():
    f, env = render_flags("identity-mixed.toml")
    assert f["dataset"][:2] == [
        "AI-ModelScope/alpaca-gpt4-data-zh#500",
        "AI-ModelScope/alpaca-gpt4-data-en#500",
    ]
    assert f["dataset"][2].endswith("self_cognition.jsonl") and len(f["dataset"]) == 3
    expected = {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "tuner_type": "lora",
        "torch_dtype": "bfloat16",
        "num_train_epochs": "3",
        "per_device_train_batch_size": "1",
        "gradient_accumulation_steps": "16",
        "lora_rank": "8",
    }
    for key, value in expected.items():
        assert f[key] == [value], key
    assert float(f["learning_rate"][0]) == 1e-4
    assert Path(f["output_dir"][0]).parent.name == "output_mixed"
    assert env == {"CUDA_VISIBLE_DEVICES": "0"}


def test_seed_004_recipe_renders_the_experiment():
    f, _ = render_flags("alpaca-zh-qwen2-0.5b.toml")
    expected = {
        "model": ["Qwen/Qwen2-0.5B"],
        "dataset": ["llamafactory/alpaca_zh#512"],  # ~1 % of ~51.2 k records
        "split_dataset_ratio": ["0.2"],  # 80/20
        "lora_rank": ["8"],
        "lora_alpha": ["16"],
        "lora_dropout": ["0.05"],
        "target_modules": ["q_proj", "v_proj"],
        "num_train_epochs": ["1"],
        "per_device_train_batch_size": ["4"],
        "gradient_accumulation_steps": ["1"],
        "max_length": ["512"],
        "eval_strategy": ["epoch"],
        "save_strategy": ["epoch"],
        "load_best_model_at_end": ["true"],
        "metric_for_best_model": ["loss"],
        "save_total_limit": ["2"],
        "model_type": ["qwen2"],
    }
    for key, value in expected.items():
        assert f[key] == value, key


def test_mixed_tiny_recipe_is_offline():
    rec = recipe.load(RECIPES / "tiny-cpu-mixed.toml")
    assert all(d.is_local and d.path.is_file() for d in rec.data.datasets)
    assert [(d.path.name, d.sample) for d in rec.data.datasets] == [
        ("general_mini.json", 80),
        ("self_cognition.json", 80),
    ]
    assert rec.train.preset_name == "cpu"


def test_mixed_recipe_on_this_machine_names_every_blocker(tmp_path):
    env = {**no_gpu_env(tmp_path), "MODELSCOPE_OFFLINE": "1"}
    proc = swiftkit("run", str(RECIPES / "identity-mixed.toml"), env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "3 problem(s) with this machine" in proc.stderr
    assert (
        shlex.join(["swiftkit", "run", str(RECIPES / "tiny-cpu-mixed.toml")]) in proc.stderr
    )  # absolute: pastes anywhere
    for name in ("alpaca-gpt4-data-zh#500", "alpaca-gpt4-data-en#500"):
        assert f"hub dataset 'AI-ModelScope/{name}' cannot be downloaded" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_verify_defaults_are_stated_once_in_the_schema():
    """[verify] defaults live as "default" in the recipe schema (which `swiftkit schema recipe`
    prints); the dataclass takes them from there and no description repeats one."""
    from dataclasses import fields

    from swiftkit.recipe.model import VerifySpec
    from swiftkit.resources import schema

    props = schema("recipe")["properties"]["verify"]["properties"]
    spec = VerifySpec()
    with_default = {k: v["default"] for k, v in props.items() if "default" in v}
    assert with_default, "the schema states the [verify] defaults"
    for key, value in with_default.items():
        got = getattr(spec, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key
    assert {f.name for f in fields(VerifySpec)} - {"base_dir"} == set(props)
    text = json.dumps(schema("recipe"))
    assert "(default" not in text, "a description repeats a default"
