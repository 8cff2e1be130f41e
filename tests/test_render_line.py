"""The printed line runs: `swiftkit render` (and `run --dry-run`) writes what its line reads
to a content-addressed folder in swiftkit's cache and prints a line that trains when pasted
into a shell from any folder (e2e: real ms-swift on the tiny model)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATASETS, RECIPES, ROOT, flags_of, gpu_recipe, swiftkit, write_recipe

from swiftkit.msswift import compat, sftflags

SELF_COG = DATASETS / "self_cognition.json"


def rendered(recipe: Path, *extra: str, env: dict[str, str] | None = None) -> dict:
    proc = swiftkit("render", "--json", str(recipe), *extra, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_rendering_twice_prints_the_same_line_and_the_data_it_names_exists(tmp_path, tiny_model):
    """Before: --dataset named output/<recipe>-<new timestamp>/data/..., a folder never
    written, different on every call."""
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG])
    first = swiftkit("render", str(r))
    second = swiftkit("render", str(r))
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    f = flags_of(rendered(r)["argv"])
    copy = Path(f["dataset"][0])
    assert copy.is_absolute() and copy.is_file()
    assert copy.is_relative_to(Path(os.environ["SWIFTKIT_CACHE_DIR"]) / "rendered")
    text = copy.read_text(encoding="utf-8")
    assert "Swift-Robot" in text and "{{NAME}}" not in text  # filled
    assert not (tmp_path / "output").exists()  # nothing started, no run folder


def test_another_identity_or_data_gets_another_folder(tmp_path, tiny_model):
    r = write_recipe(tmp_path / "r.toml", tiny_model, [DATASETS / "identity_full.json"])
    before = flags_of(rendered(r)["argv"])["dataset"][0]
    r.write_text(r.read_text(encoding="utf-8").replace("Swift-Robot", "Nova"), "utf-8")
    renamed = flags_of(rendered(r)["argv"])["dataset"][0]
    assert renamed != before and "Nova" in Path(renamed).read_text(encoding="utf-8")
    assert "Swift-Robot" in Path(before).read_text(encoding="utf-8")  # the old line still runs


def test_dry_run_prints_the_rendered_line(tmp_path, tiny_model):
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG])
    dry = swiftkit("run", "--dry-run", str(r))
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().splitlines()[-1] == swiftkit("render", str(r)).stdout.strip()


def test_json_describes_the_same_command_as_the_line(tmp_path, tiny_model):
    r = write_recipe(
        tmp_path / "r.toml", tiny_model, [SELF_COG], extra="[verify]\nstop_when_verified = true"
    )
    cmd = rendered(r)
    words = shlex.split(swiftkit("render", str(r)).stdout)
    env = [f"{k}={v}" for k, v in cmd["env"].items()]
    assert words == env + cmd["argv"]
    # the plugin's settings are in the line, and the file they name exists
    stop = Path(cmd["env"]["SWIFTKIT_STOP_CONFIG"])
    settings = json.loads(stop.read_text(encoding="utf-8"))
    assert (stop.parent / settings["log"]).parent == stop.parent  # the plugin's reading
    assert Path(flags_of(cmd["argv"])["external_plugins"][0]).is_file()


def test_the_line_writes_its_own_folder_and_never_overwrites_a_paste(tmp_path, tiny_model):
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG])
    f = flags_of(rendered(r)["argv"])
    assert f["output_dir"] == [str(tmp_path / "output" / "r-pasted")]
    assert f["add_version"] == ["true"]  # ms-swift adds v<N>-<time>/ per paste


def test_render_builds_the_tiny_model_the_line_names(tmp_path):
    """A fresh clone has no .models/: the printed line must not name a missing model."""
    r = write_recipe(tmp_path / "r.toml", "m/tiny", [SELF_COG])
    r.write_text(
        r.read_text(encoding="utf-8").replace('id = "m/tiny"', 'id = "m/tiny"\nbuild = "tiny"'),
        "utf-8",
    )
    proc = swiftkit("render", str(r))
    assert proc.returncode == 0, proc.stderr
    assert "building the tiny test model" in proc.stderr  # a note, not part of the line
    assert (tmp_path / "m" / "tiny" / "config.json").is_file()
    assert f"--model {tmp_path / 'm' / 'tiny'} " in proc.stdout


def test_workers_0_renders_persistent_workers_false(tmp_path, tiny_model):
    """ms-swift 4.5.3 turned dataloader_persistent_workers on by default; with the cpu
    preset's 0 workers torch refused ("persistent_workers option needs num_workers > 0")."""
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG])
    f = flags_of(rendered(r)["argv"])
    assert f["dataloader_num_workers"] == ["0"]
    assert f["dataloader_persistent_workers"] == ["false"]
    gpu = flags_of(rendered(gpu_recipe(tmp_path))["argv"])  # workers left to ms-swift
    assert "dataloader_persistent_workers" not in gpu


def test_persistent_workers_is_not_rendered_for_a_version_without_the_flag(
    tmp_path, tiny_model, monkeypatch
):
    from swiftkit.pipeline.plan import plan

    known, origin = sftflags.known_flags()
    monkeypatch.setattr(
        sftflags, "known_flags", lambda: (known - {"dataloader_persistent_workers"}, origin)
    )
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG])
    assert "--dataloader_persistent_workers" not in plan(r).command.argv


def test_a_recipe_that_sets_persistent_workers_keeps_its_value(tmp_path, tiny_model):
    r = write_recipe(
        tmp_path / "r.toml",
        tiny_model,
        [SELF_COG],
        train="dataloader_num_workers = 2\ndataloader_persistent_workers = true",
    )
    assert flags_of(rendered(r)["argv"])["dataloader_persistent_workers"] == ["true"]


def test_stop_when_verified_below_4_is_refused_by_validate_naming_the_version(
    tmp_path, tiny_model, monkeypatch
):
    """On 3.12.6 validate and render accepted it, and the plugin (swift.callbacks, 4.x only)
    failed the run after the model loaded."""
    monkeypatch.setattr(compat, "swift_version", lambda: "3.12.6")
    r = write_recipe(
        tmp_path / "r.toml", tiny_model, [SELF_COG], extra="[verify]\nstop_when_verified = true"
    )
    for argv in (["validate", str(r)], ["render", str(r)]):
        proc = swiftkit(*argv)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        out = proc.stdout + proc.stderr
        assert "stop_when_verified needs ms-swift 4.0.0 or newer" in out
        assert "ms-swift 3.12.6 is installed" in out and "verify.stop_when_verified" in out
    off = write_recipe(tmp_path / "off.toml", tiny_model, [SELF_COG])
    assert swiftkit("validate", str(off)).returncode == 0  # the rest of the flow is fine on 3.x
    monkeypatch.setattr(compat, "swift_version", lambda: "4.0.4")
    assert swiftkit("validate", str(r)).returncode == 0


def test_supported_range_is_the_measured_one():
    """pyproject, compat.json and the README say the same range: the versions the tiny flow
    was run on."""
    sup = compat.table()["supported"]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"{compat.requirement()}"' in pyproject
    assert compat.is_supported("3.12.6") and compat.is_supported("4.6.0")
    assert not compat.is_supported("3.11.0") and not compat.is_supported(sup["below"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "3.12.6, 4.0.4 and 4.6.0" in readme


def test_swiftkit_flags_lists_type_and_default(tmp_path):
    proc = swiftkit("flags", "lora_r")
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("--lora_rank "))
    assert "int" in line and "default 8" in line
    glob = swiftkit("flags", "dataloader_*").stdout
    assert "--dataloader_persistent_workers" in glob and "--lora_rank" not in glob
    every = swiftkit("flags")
    assert (
        f"{len(sftflags.known_flags()[0])} of {len(sftflags.known_flags()[0])} flags"
        in every.stdout
    )


def test_swiftkit_flags_names_a_renamed_flag_and_a_near_miss():
    proc = swiftkit("flags", "train_type")
    assert proc.returncode == 1
    assert "--train_type is --tuner_type here" in proc.stdout
    near = swiftkit("flags", "lora_rnak")
    assert near.returncode == 1 and "did you mean 'lora_rank'" in near.stdout


def test_fix_messages_point_at_swiftkit_flags_not_swift_sft_help(tmp_path, tiny_model):
    """`swift sft --help` prints only --tuner_backend on ms-swift 3.12 to 4.6."""
    r = write_recipe(tmp_path / "r.toml", tiny_model, [SELF_COG], train="lora_rnak = 8")
    proc = swiftkit("validate", str(r))
    assert proc.returncode == 1
    assert "`swiftkit flags` lists them" in proc.stdout and "sft --help" not in proc.stdout
    hits = subprocess.run(
        ["grep", "-rn", "sft --help", str(ROOT / "swiftkit"), str(ROOT / "README.md")],
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    # only the lines that say why it cannot stand in
    assert all("cannot stand in" in h or "prints only" in h for h in hits), hits


def test_flags_details_come_from_the_installed_sources():
    details = sftflags.flag_details()
    assert details is not None
    assert set(details) == set(sftflags.from_source() or ())
    assert details["lora_rank"].type == "int" and details["lora_rank"].default == "8"
    assert details["dataset"].default == "list()"
    assert sftflags.default("lora_rank") == int(details["lora_rank"].default)


@pytest.mark.e2e
def test_pasted_line_trains_from_another_folder(tmp_path):
    """Done when: the rendered line of recipes/tiny-cpu.toml, pasted into `sh -c` from
    another folder (a space and non-ASCII in its path), exits 0 and leaves a checkpoint."""
    line = swiftkit("render", str(RECIPES / "tiny-cpu.toml"))
    assert line.returncode == 0, line.stderr
    out = Path(flags_of(shlex.split(line.stdout))["output_dir"][0])
    before = set(out.glob("v*-*"))
    elsewhere = tmp_path / "another folder ü"
    elsewhere.mkdir()
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]  # the venv's swift
    proc = subprocess.run(
        ["sh", "-c", line.stdout.strip()],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    made = set(out.glob("v*-*")) - before  # this paste's own v<N>-<time>/ folder
    try:
        ckpts = [c for m in made for c in m.glob("checkpoint-*/adapter_model.safetensors")]
        assert ckpts, list(out.rglob("*"))[:20]
        assert not any(elsewhere.iterdir())  # nothing written where it was pasted
    finally:  # the shipped recipe trains into the checkout's output/: leave it as it was
        for m in made:
            shutil.rmtree(m, ignore_errors=True)
