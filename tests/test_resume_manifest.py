"""`run --resume` runs the command swiftkit renders from the recipe for this run folder, never
what an edited (copied, shared) manifest.json holds: a recorded argv or env that differs is
refused, the manifest and the field named. Property test: any edit to argv/env is refused or
is exactly the rendered command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import DATASETS, assert_clean_failure, swiftkit, write_recipe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swiftkit.errors import SwiftkitError
from swiftkit.pipeline.plan import plan, resume_plan, write_new_run


def interrupted_run(tmp: Path) -> Path:
    recipe = write_recipe(
        tmp / "r.toml", "Qwen/Qwen2.5-0.5B-Instruct", [DATASETS / "self_cognition.json"]
    )
    p, _ = write_new_run(plan(recipe))
    m = json.loads((p.run_dir / "manifest.json").read_text(encoding="utf-8"))
    m["status"] = "interrupted"
    (p.run_dir / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    ckpt = p.run_dir / "checkpoint-1"
    ckpt.mkdir()
    (ckpt / "trainer_state.json").write_text('{"global_step": 1}', encoding="utf-8")
    return p.run_dir


def edit(run_dir: Path, **fields) -> None:
    path = run_dir / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m.update(fields)
    path.write_text(json.dumps(m), encoding="utf-8")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return interrupted_run(tmp_path_factory.mktemp("resume"))


def test_an_untouched_run_resumes_with_its_recorded_command(run_dir):
    m = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    p = resume_plan(run_dir)
    assert p.command.argv == [*m["argv"], "--resume_from_checkpoint", str(run_dir / "checkpoint-1")]
    assert p.command.env == m["env"]


def test_a_manifest_argv_edited_to_a_shell_is_refused_and_nothing_runs(tmp_path):
    run = interrupted_run(tmp_path)
    edit(run, argv=["bash", "-c", "echo PWNED > pwned.txt"])
    proc = swiftkit("run", "--resume", "--no-verify", str(run), cwd=tmp_path)
    assert_clean_failure(proc, str(run / "manifest.json"), "'argv' differs", "'bash'")
    assert not list(tmp_path.rglob("pwned.txt"))


@pytest.mark.parametrize("env", [{"LD_PRELOAD": "/tmp/x.so"}, {"PYTHONPATH": "/tmp/evil"}, [], "x"])
def test_a_manifest_env_swiftkit_does_not_set_is_refused(tmp_path, env):
    run = interrupted_run(tmp_path)
    m = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    edit(run, env={**m["env"], **env} if isinstance(env, dict) else env)
    with pytest.raises(SwiftkitError) as e:
        resume_plan(run)
    assert "'env' differs" in str(e.value.findings[0])


def test_a_copied_run_folder_resumes_in_the_copy_not_the_original(run_dir, tmp_path):
    copy = tmp_path / "elsewhere" / run_dir.name
    shutil.copytree(run_dir, copy)
    p = resume_plan(copy)
    assert str(run_dir) not in " ".join(p.command.argv + list(p.command.env.values()))
    assert p.command.argv[-1] == str(copy / "checkpoint-1")
    assert p.command.argv[p.command.argv.index("--output_dir") + 1] == str(copy)


TOKENS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["--external_plugins", "/tmp/evil.py", "--lora_rank", "8", "--push_to_hub"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_edit_to_the_recorded_command_is_refused(run_dir, data):
    path = run_dir / "manifest.json"
    original = path.read_text(encoding="utf-8")
    m = json.loads(original)
    argv = list(m["argv"])
    i = data.draw(st.integers(0, len(argv)))
    argv[i : i + data.draw(st.integers(0, 2))] = data.draw(st.lists(TOKENS, max_size=3))
    env = data.draw(st.one_of(st.just(m["env"]), st.dictionaries(TOKENS, TOKENS, max_size=3)))
    try:
        edit(run_dir, argv=argv, env=env)
        try:
            p = resume_plan(run_dir)
        except SwiftkitError as e:
            assert str(run_dir / "manifest.json") in str(e.findings[0])
        else:  # accepted only when it is the rendered command itself
            assert (argv, env) == (m["argv"], m["env"])
            assert p.command.argv[: len(argv)] == argv
    finally:
        path.write_text(original, encoding="utf-8")
