"""Runs found from anywhere: the runs index in the state folder, `latest` across it, run
folder names, and every way the index can go wrong (gone folders, torn lines, concurrent
writers, an unwritable state folder)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from pathlib import Path

import pytest
from conftest import DATASETS, assert_clean_failure, swiftkit, swiftkit_process, write_recipe
from test_after_input import fake_run

from swiftkit.pipeline import folders, index
from swiftkit.pipeline import plan as planning
from swiftkit.pipeline.resolve import resolve
from swiftkit.recipe import load


def made_run(tmp_path: Path, tiny_model: Path, where: str = "a", **kw) -> Path:
    """A run folder as `swiftkit run` creates it before launch (folder, data, manifest,
    index entry), for a recipe in tmp_path/where."""
    (tmp_path / where).mkdir(exist_ok=True)
    r = write_recipe(tmp_path / where / "r.toml", tiny_model, [DATASETS / "self_cognition.json"])
    p, note = planning.write_new_run(planning.plan(r, **kw))
    assert note is None
    return p.run_dir


def test_runs_from_root_lists_a_run_made_in_another_folder(tiny_model, tmp_path, state_dir):
    run_dir = made_run(tmp_path, tiny_model)
    for proc in (
        swiftkit("runs", "--json", cwd=Path("/")),
        swiftkit_process("runs", "--json", cwd=Path("/")),  # the variable reaches a child
    ):
        assert proc.returncode == 0, proc.stderr
        (row,) = json.loads(proc.stdout)
        assert row["run"] == str(run_dir) and row["status"] == "running"
    assert (state_dir / "runs.jsonl").is_file()


def test_state_folder_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SWIFTKIT_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert index.state_dir() == tmp_path / "xdg" / "swiftkit"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert index.state_dir() == tmp_path / "home" / ".local" / "state" / "swiftkit"


def test_latest_is_the_newest_run_anywhere_and_commands_say_which(tmp_path, state_dir, monkeypatch):
    """A newer run made in another folder wins over ./output; export and serve name it."""
    monkeypatch.chdir(tmp_path)  # ./output is tmp_path/output, whatever folder pytest started in
    old = fake_run(tmp_path / "output", "r-1", steps=[80])
    new = fake_run(tmp_path / "elsewhere" / "output", "r-2", steps=[40, 120])
    assert index.add(new) is None
    target = resolve("latest")
    assert (target.run_dir, target.checkpoint) == (new, new / "checkpoint-120")
    assert target.using() == f"using run: {new} (checkpoint-120)"
    assert resolve("latest", tmp_path / "output").run_dir == old  # --output: that folder
    (new / "checkpoint-120-merged").mkdir()
    proc = swiftkit("export", "--merge", cwd=tmp_path)
    assert f"using run: {new} (checkpoint-120)" in proc.stdout
    assert_clean_failure(proc, "merge target exists")
    assert resolve(str(new / "checkpoint-40")).using() == f"using run: {new} (checkpoint-40)"
    assert resolve(str(new)).using().startswith("using run: ")


def test_verify_defaults_to_latest(tmp_path):
    """`swiftkit verify` with no argument takes `latest` (here: none yet, a clean error)."""
    assert_clean_failure(swiftkit("verify", cwd=tmp_path), "no run yet")


def test_a_run_folder_not_there_now_keeps_its_index_line_and_shows_as_missing(tmp_path, state_dir):
    """An unmounted disk: `runs` lists the folder as missing and forgets nothing, so when the
    folder comes back it is listed again."""
    keep = fake_run(tmp_path / "o", "r-1", steps=[80])
    moved = fake_run(tmp_path / "o", "r-3", steps=[80])
    for r in (keep, moved):
        index.add(r)
    moved.rename(tmp_path / "o" / "unmounted")
    proc = swiftkit("runs", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = {r["run"]: r["status"] for r in json.loads(proc.stdout)}
    assert listed == {str(keep): "finished", str(moved): "missing"}
    assert f"missing: {moved} is not there now" in swiftkit("runs", cwd=tmp_path).stdout
    lines = (state_dir / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["run"] for x in lines] == [str(keep), str(moved)]
    (tmp_path / "o" / "unmounted").rename(moved)
    again = json.loads(swiftkit("runs", "--json", cwd=tmp_path).stdout)
    assert {r["run"]: r["status"] for r in again} == {str(keep): "finished", str(moved): "finished"}


def test_odd_manifest_values_and_a_huge_index_path_are_no_traceback(tmp_path, state_dir):
    run = fake_run(tmp_path / "o", "r-1", steps=[80], started=12345, last_loss="x")
    index.add(run)
    with (state_dir / "runs.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"run": "/" + "a" * 5_000_000}) + "\n")
    for args in (["runs"], ["runs", "--json"]):
        proc = swiftkit(*args, cwd=tmp_path)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert "r-1" in proc.stdout


@pytest.mark.parametrize(
    "damage",
    [
        b'{"run": "/half',  # a torn last line
        b"\x00\x00\x00\x00",  # a crash that left zeros
        b"\xff\xfe garbage \x80\n[1, 2]\n",  # not UTF-8, not an entry
        b'{"run": 3}\n{"other": "x"}\n',  # JSON, not an entry
    ],
)
def test_a_torn_or_corrupt_index_is_rebuilt_never_a_crash(tmp_path, state_dir, damage):
    keep = fake_run(tmp_path / "o", "r-1", steps=[80])
    index.add(keep)
    with (state_dir / "runs.jsonl").open("ab") as fh:
        fh.write(damage)
    proc = swiftkit("runs", "--json", cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert [r["run"] for r in json.loads(proc.stdout)] == [str(keep)]
    assert "unreadable line(s)" in proc.stderr and "rebuilt from the rest" in proc.stderr
    later = fake_run(tmp_path / "o", "r-2", steps=[80])
    index.add(later)  # the rebuilt file takes new entries as before
    assert index.indexed().notes == []
    assert index.indexed().runs == [keep, later]


def _add_many(state: str, base: str, n: int) -> None:
    os.environ["SWIFTKIT_STATE_DIR"] = state
    for i in range(n):
        assert index.add(Path(base) / f"run-{i:03d}") is None


def test_concurrent_writers_lose_no_entry_and_tear_no_line(tmp_path, state_dir):
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_add_many, args=(str(state_dir), str(tmp_path / f"p{k}"), 40))
        for k in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    lines = (state_dir / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 160
    assert len({json.loads(x)["run"] for x in lines}) == 160  # every line whole


def test_an_unwritable_state_folder_is_a_note_not_a_failure(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("SWIFTKIT_STATE_DIR", str(blocker / "state"))
    monkeypatch.chdir(tmp_path)  # no ./output runs of the folder pytest started in
    note = index.add(tmp_path / "run")
    assert note and "could not record the run in the runs index" in note
    assert index.all_runs().notes and index.all_runs().runs == []  # reading: a note too


def test_run_folders_are_named_after_the_recipe_or_its_identity(tiny_model, tmp_path):
    # identity_en.json has {{NAME}}: a dataset that never says the identity is refused (issue 22)
    ds = [DATASETS / "identity_en.json"]
    named = write_recipe(tmp_path / "tiny.toml", tiny_model, ds)
    assert folders.run_stem(load(named)) == "tiny"
    (tmp_path / "mybot").mkdir()
    init_style = write_recipe(tmp_path / "mybot" / "recipe.toml", tiny_model, ds)
    assert folders.run_stem(load(init_style)) == "swift-robot"
    nova = write_recipe(
        tmp_path / "mybot" / "recipe.toml", tiny_model, ds, identity='name = "Nova"\nauthor = "L"'
    )
    assert folders.run_stem(load(nova)) == "nova"
    p = planning.plan(nova)
    assert p.run_dir.name.startswith("nova-") and p.run_dir.parent == tmp_path / "mybot" / "output"
    anonymous = write_recipe(tmp_path / "mybot" / "recipe.toml", tiny_model, ds, identity="")
    assert folders.run_stem(load(anonymous)) == "mybot"


def test_two_runs_claiming_one_folder_in_the_same_second_each_get_their_own(tmp_path):
    proposed = tmp_path / "out" / "nova-20261124-021500"
    got: list[Path] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        got.append(folders.claim_run_dir(proposed))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 8 and proposed in got
    assert {p.name for p in got} == {proposed.name} | {f"{proposed.name}-{k}" for k in range(2, 9)}


def test_a_second_run_of_the_same_plan_trains_in_its_own_folder(tiny_model, tmp_path):
    """Two `swiftkit run` of one recipe in the same second: the second one's command names
    its own folder (output_dir and data copies), so both train (it was a FileExistsError)."""
    r = write_recipe(tmp_path / "r.toml", tiny_model, [DATASETS / "self_cognition.json"])
    first = planning.plan(r)
    second = planning.plan(r, first.run_dir)  # the same proposal, as in the same second
    a, _ = planning.write_new_run(first)
    b, _ = planning.write_new_run(second)
    assert a.run_dir == first.run_dir and b.run_dir == Path(f"{first.run_dir}-2")
    inside = [x for x in b.command.argv if x.startswith(str(first.run_dir))]
    assert inside and all(x.startswith(str(b.run_dir)) for x in inside)
    assert str(b.run_dir) in b.command.argv and str(a.run_dir) in a.command.argv
    assert (b.run_dir / "manifest.json").is_file() and list((b.run_dir / "data").iterdir())
    assert {x.run_dir for x in (a, b)} == set(index.indexed().runs)


def test_swiftkit_own_folders_come_from_one_place(tmp_path, monkeypatch):
    """The rendered data, the CPU baseline and the runs index agreed on no rule: the baseline
    ignored SWIFTKIT_CACHE_DIR, and a relative XDG_STATE_HOME was used where the cache ignored
    one. Now one function: swiftkit's variable, else an absolute XDG one, else home."""
    from swiftkit import resources
    from swiftkit.machine import baseline

    monkeypatch.setenv("SWIFTKIT_CACHE_DIR", str(tmp_path / "c"))
    assert baseline.cache_file() == tmp_path / "c" / "cpu-baseline.json"
    monkeypatch.delenv("SWIFTKIT_STATE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # ignored, as the XDG spec says
    assert index.state_dir() == tmp_path / "home" / ".local" / "state" / "swiftkit"
    assert resources.user_folder("state") == index.state_dir()
