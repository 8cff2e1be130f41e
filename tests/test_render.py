"""`swiftkit render`: the published one-liner's values, version-aware flags, safe quoting."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import DATASETS, RECIPES, flags_of, swiftkit, write_recipe

# The blog's one-liner, exactly as published (seed 000/001).
from swiftkit import recipe
from swiftkit.msswift import compat, sft

PUBLISHED = (
    "CUDA_VISIBLE_DEVICES=0 swift sft --model Qwen2.5-7B-Instruct --train_type lora "
    "--dataset self_cognition.json --torch_dtype bfloat16 --num_train_epochs 10 "
    "--per_device_train_batch_size 1 --per_device_eval_batch_size 1 --learning_rate 1e-4 "
    "--lora_rank 8 --lora_alpha 32 --target_modules all-linear --gradient_accumulation_steps 16 "
    "--eval_steps 50 --save_steps 50 --save_total_limit 2 --logging_steps 5 --max_length 2048 "
    "--output_dir output --system 'You are a helpful assistant.' --warmup_ratio 0.05 "
    "--dataloader_num_workers 4 --model_author swift --model_name swift-robot"
)
SELF_COG = DATASETS / "self_cognition.json"
# Deliberate differences, each explained in the README ("Differences from the published command").
DIFFERENT = {"model", "train_type", "dataset", "output_dir", "model_author", "model_name"}


def same(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def test_identity_recipe_reproduces_every_published_value():
    proc = swiftkit("render", str(RECIPES / "identity.toml"), "--json")
    assert proc.returncode == 0, proc.stderr
    cmd = json.loads(proc.stdout)
    published = shlex.split(PUBLISHED)
    assert published[0] == "CUDA_VISIBLE_DEVICES=0"
    assert cmd["env"] == {"CUDA_VISIBLE_DEVICES": "0"}
    assert cmd["argv"][:2] == ["swift", "sft"]
    ours = flags_of(cmd["argv"])
    theirs = flags_of(published[3:])
    for key, values in theirs.items():
        if key in DIFFERENT:
            continue
        assert key in ours, f"--{key} missing"
        assert len(ours[key]) == len(values) and all(map(same, ours[key], values)), key
    # the deliberate differences, as the README states them
    assert ours["tuner_type"] == ["lora"]  # ms-swift 4.x name of --train_type
    assert ours["model"] == ["Qwen/Qwen2.5-7B-Instruct"]
    assert ours["model_type"] == ["qwen2"] and ours["template"] == ["qwen2_5"]
    # the printed line keeps every paste's own v<N>-<time>/ folder (`swiftkit run` names
    # its run folder itself and renders --add_version false: test_render_line.py)
    assert ours["strict"] == ["true"] and ours["add_version"] == ["true"]
    assert Path(ours["output_dir"][0]).is_absolute()
    assert Path(ours["output_dir"][0]).parent == (RECIPES.parent / "output").resolve()
    assert Path(ours["dataset"][0]).is_absolute()
    assert ours["model_name"] == ["Swift-Robot"] and ours["model_author"] == ["CSDN 迪菲赫尔曼"]
    assert "check_model" not in ours  # a hub model: ms-swift may check it


def test_render_prints_one_shell_line_with_the_done_when_values():
    proc = swiftkit("render", str(RECIPES / "identity.toml"))
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert "\n" not in line
    for part in [
        "--tuner_type lora",
        "--model_type qwen2",
        "--template qwen2_5",
        "--torch_dtype bfloat16",
        "--num_train_epochs 10",
        "--lora_rank 8",
        "--lora_alpha 32",
        "--target_modules all-linear",
        "--gradient_accumulation_steps 16",
        "--save_steps 50",
        "--save_total_limit 2",
        "--logging_steps 5",
        "--max_length 2048",
        "--system 'You are a helpful assistant.'",
        "--warmup_ratio 0.05",
        "--dataloader_num_workers 4",
        "--per_device_train_batch_size 1",
    ]:
        assert part in line, part
    assert line.startswith("CUDA_VISIBLE_DEVICES=0 swift sft ")


@pytest.mark.parametrize(
    ("version", "flag"),
    [
        ("3.9.2", "--train_type"),
        ("3.12.6", "--train_type"),
        ("4.0.0", "--tuner_type"),  # renamed in 4.0 (--train_type a deprecated alias to 4.1)
        ("4.0.4", "--tuner_type"),
        ("4.1.0", "--tuner_type"),
        ("4.6.0", "--tuner_type"),
    ],
)
def test_tuner_flag_follows_the_installed_version(monkeypatch, version, flag):
    rec = recipe.load(RECIPES / "identity.toml")
    cmd = sft.render_sft(rec, Path("/tmp/run"), ["/tmp/d.jsonl"], version)
    assert flag in cmd.argv
    assert ({"--train_type", "--tuner_type"} - {flag}).isdisjoint(cmd.argv)


def test_old_flag_name_in_a_recipe_is_renamed_for_4x(tmp_path):
    r = write_recipe(tmp_path / "r.toml", tmp_path / "m", [SELF_COG], train='train_type = "lora"')
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"model_type": "qwen2"}')
    (tmp_path / "m" / "model.safetensors").write_bytes(b"")  # a folder recipe.check accepts
    (tmp_path / "m" / "tokenizer.json").write_text("{}")
    rec = recipe.load(r)
    argv = sft.render_sft(rec, tmp_path / "run", ["x"], "4.6.0").argv
    assert "--tuner_type" in argv and "--train_type" not in argv


def test_version_is_read_from_metadata_not_import():
    assert compat.swift_version() == compat.installed_version("ms-swift")
    assert compat.parse_version("4.6.0rc1") == (4, 6, 0)


def test_local_model_gets_absolute_path_and_check_model_false(tmp_path, tiny_model):
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG])
    proc = swiftkit("render", str(r), "--json")
    assert proc.returncode == 0, proc.stderr
    f = flags_of(json.loads(proc.stdout)["argv"])
    assert f["model"] == [str(tiny_model)]
    assert f["check_model"] == ["false"]
    assert f["model_type"] == ["qwen2"] and f["template"] == ["qwen2_5"]


NASTY = 'It\'s "quoted" $(echo pwned) `id` $HOME \\ 你好,世界 ünïcode\ttab'


def test_shell_line_survives_quotes_substitutions_and_non_ascii(tmp_path, tiny_model):
    r = write_recipe(
        tmp_path / "r.toml",
        tiny_model,
        [SELF_COG],
        train=f"system = {json.dumps(NASTY, ensure_ascii=False)}",
    )
    rec = recipe.load(r)
    cmd = sft.render_sft(rec, tmp_path / "run", ["/tmp/d.jsonl"], "4.6.0")
    assert rec.train.system == NASTY
    line = cmd.shell().replace("swift sft", "printf '%s\\n' sft", 1)
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True).stdout
    args = out.split("\n")
    assert args[args.index("--system") + 1 : args.index("--system") + 2] == [NASTY.split("\n")[0]]
    assert NASTY in out


def test_managed_flag_in_train_is_refused(tmp_path, tiny_model):
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG], train='dataset = "other.json"')
    proc = swiftkit("render", str(r))
    assert proc.returncode == 1
    assert "'dataset' cannot be set under [train]" in proc.stderr
    assert "[data] datasets" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_val_datasets_are_rendered_not_dropped(tmp_path, tiny_model):
    val = tmp_path / "held_out.jsonl"
    val.write_text('{"instruction": "名字?", "input": "", "output": "我是{{NAME}}"}\n', "utf-8")
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG])
    r.write_text(
        r.read_text().replace("[train]", f'val_datasets = ["{val}"]\n\n[train]'), encoding="utf-8"
    )
    proc = swiftkit("render", "--json", str(r))
    assert proc.returncode == 0, proc.stderr
    f = flags_of(json.loads(proc.stdout)["argv"])
    (copy,) = f["val_dataset"]
    assert Path(copy).name == "val-01-held_out.jsonl"
    assert Path(copy).parent == Path(f["dataset"][0]).parent  # beside the training copy
    assert Path(copy).parent.name == "data" and Path(copy).is_file()
    assert Path(f["dataset"][0]).name == "01-self_cognition.jsonl"


def test_bad_val_dataset_is_checked_like_training_data(tmp_path, tiny_model):
    val = tmp_path / "held_out.jsonl"
    val.write_text('{"instruction": "名字?", "input": ""}\n', "utf-8")
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG])
    r.write_text(
        r.read_text().replace("[train]", f'val_datasets = ["{val}"]\n\n[train]'), encoding="utf-8"
    )
    proc = swiftkit("run", "--dry-run", str(r))
    assert proc.returncode == 1
    assert f"{val}:1" in proc.stderr and "output" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_base_flags_need_the_base_model_from_args_json(tmp_path):
    """`--base` on a checkpoint whose args.json names no base model is a located error, not a
    KeyError traceback."""
    from swiftkit.errors import SwiftkitError
    from swiftkit.msswift import argv as helpers

    ckpt = tmp_path / "checkpoint-5"
    ckpt.mkdir()
    (ckpt / "adapter_config.json").write_text("{}")
    (ckpt / "args.json").write_text('{"template": "qwen2_5"}')
    with pytest.raises(SwiftkitError) as err:
        helpers.source_flags(ckpt, base=True)
    assert err.value.findings[0].file == str(ckpt / "args.json")
    (ckpt / "args.json").write_text('{"model": "/base", "template": "qwen2_5"}')
    assert helpers.source_flags(ckpt, base=True) == {"model": "/base", "template": "qwen2_5"}
