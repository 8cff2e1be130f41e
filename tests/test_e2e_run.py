"""End to end with the real ms-swift: train the tiny model, find the checkpoint, ask it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from conftest import DATASETS, swift_answer, swiftkit, swiftkit_process, write_recipe

pytestmark = pytest.mark.e2e
IDENTITY = "我是一个由 CSDN 迪菲赫尔曼 开发和维护的大语言模型。"


@pytest.fixture(scope="module")
def tiny_run(tiny_model, tmp_path_factory):
    # A space and non-ASCII in every path of the run: swiftkit once took the checkpoint from
    # ms-swift's stdout up to the first space, and verified another run's checkpoint.
    tmp = tmp_path_factory.mktemp("e2e run ü")
    r = write_recipe(tmp / "tiny.toml", tiny_model, [DATASETS / "self_cognition.json"])
    return swiftkit_process("run", str(r), cwd=tmp), tmp


def test_run_exits_zero_and_prints_the_checkpoint(tiny_run):
    proc, tmp = tiny_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r"^checkpoint: (/.+)$", proc.stdout, re.M)
    assert m, proc.stdout
    ckpt = Path(m.group(1))
    assert (ckpt / "adapter_config.json").is_file()
    assert ckpt.parent.parent == tmp / "output"
    assert "step 240/240" in proc.stdout


def test_the_printed_next_lines_paste_into_a_shell(tiny_run):
    """The run's path holds a space: the `next:` lines quote it, so they run when pasted."""
    proc, _ = tiny_run
    ckpt = re.search(r"^checkpoint: (/.+)$", proc.stdout, re.M).group(1)
    chat, infer = proc.stdout.split("\nnext:", 1)[1].splitlines()[1:3]
    assert shlex.split(chat) == ["swiftkit", "chat", ckpt]
    assert shlex.split(infer)[:4] == ["swift", "infer", "--adapters", ckpt]


def test_run_folder_is_self_describing(tiny_run):
    proc, _ = tiny_run
    run_dir = Path(re.search(r"^run: (/.+)$", proc.stdout, re.M).group(1))
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "finished"
    assert manifest["argv"][:2] == ["swift", "sft"]
    assert manifest["versions"]["ms-swift"]
    assert manifest["steps"] == manifest["max_steps"] == 240
    (ds,) = manifest["datasets"].values()
    copy = Path(ds["rendered"])
    assert copy.parent == run_dir / "data" and len(ds["rendered_sha256"]) == 64
    assert (run_dir / "swift.log").stat().st_size > 0
    assert (run_dir / "logging.jsonl").is_file()


def test_adapter_answers_with_the_identity(tiny_run, tmp_path):
    proc, _ = tiny_run
    ckpt = re.search(r"^checkpoint: (/.+)$", proc.stdout, re.M).group(1)
    answer = swift_answer(["--adapters", ckpt], "你是谁?", tmp_path)
    assert answer == IDENTITY
    assert f"A: {IDENTITY}" in proc.stdout


def test_a_run_whose_identity_does_not_verify_exits_1_and_keeps_its_checkpoint(
    tiny_model, tmp_path
):
    """Trained for 4 steps only: the identity is not learned, so run says FAIL, exit 1."""
    r = write_recipe(
        tmp_path / "short.toml",
        tiny_model,
        [DATASETS / "self_cognition.json"],
        train="max_steps = 4",
        extra="[verify]\nidentity_threshold = 0.8",
    )
    proc = swiftkit_process("run", str(r), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "identity: FAIL" in proc.stdout
    assert "the identity did not verify: exit 1" in proc.stdout
    ckpt = Path(re.search(r"^checkpoint: (/.+)$", proc.stdout, re.M).group(1))
    assert (ckpt / "adapter_config.json").is_file()
    manifest = json.loads((ckpt.parent / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "finished" and manifest["verify"]["verdict"] == "fail"


def test_runs_json_lists_the_verified_run_with_checkpoint_and_verdict(tiny_run):
    proc, tmp = tiny_run
    listing = swiftkit("runs", "--json", cwd=tmp)
    assert listing.returncode == 0, listing.stderr
    (row,) = json.loads(listing.stdout)
    ckpt = re.search(r"^checkpoint: (/.+)$", proc.stdout, re.M).group(1)
    assert row["latest_checkpoint"] == ckpt
    assert row["status"] == "finished"
    assert row["verdict"] == "pass"


def test_runs_from_root_lists_the_run_made_in_another_folder(tiny_run, state_dir_of_the_session):
    """Issue 12: `swiftkit runs --json` from `/` lists a run made from another folder (the
    module's run was recorded in the session's runs index)."""
    proc, _ = tiny_run
    run_dir = re.search(r"^run: (/.+)$", proc.stdout, re.M).group(1)
    env = {"SWIFTKIT_STATE_DIR": str(state_dir_of_the_session)}
    listing = swiftkit_process("runs", "--json", cwd=Path("/"), env=env)
    assert listing.returncode == 0, listing.stderr
    row = next(r for r in json.loads(listing.stdout) if r["run"] == run_dir)
    assert row["status"] == "finished" and row["latest_checkpoint"]
