"""manifest.json and report.json as typed data: they round-trip, carry schema_version 2, and
the files swiftkit wrote before the version existed (tests/v1_run, written by that code) still
read."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from conftest import swiftkit

from swiftkit.msswift.args import CheckpointArgs
from swiftkit.pipeline import manifest
from swiftkit.pipeline.manifest import DatasetRecord, Manifest, Status, Verdict, VerdictSummary
from swiftkit.recipe.model import Identity
from swiftkit.verify.report import VerifyReport
from swiftkit.verify.verdict import cached_base_answers

V1 = Path(__file__).parent / "v1_run"
RUN = "/home/me/bot/output/tiny-20260101-120000"


def v1(name: str) -> dict:
    return json.loads((V1 / name).read_text(encoding="utf-8"))


def test_a_version_1_manifest_reads_into_attributes():
    m = Manifest.read(V1)
    assert m.schema_version == 1
    assert (m.status, m.steps, m.max_steps, m.returncode) == ("finished", 240, 240, 0)
    assert m.recipe == "/home/me/bot/recipes/tiny.toml" and m.preset == "cpu"
    assert m.checkpoint == f"{RUN}/checkpoint-240" and m.last_loss == 0.3333
    assert m.argv[:2] == ["swift", "sft"] and m.versions["ms-swift"] == "4.6.0"
    assert m.identity == Identity(name="Swift-Robot", author="CSDN 迪菲赫尔曼")
    assert m.verify is not None
    assert (m.verify.verdict, m.verify.identity, m.verify.identity_probes) == ("pass", 1.0, 5)
    assert m.resumed[0].argv[-2:] == ["--resume_from_checkpoint", f"{RUN}/checkpoint-80"]
    spec = m.verify_spec(V1)
    assert spec.identity_threshold == 0.8 and spec.base_dir == Path("/home/me/bot/recipes")
    assert spec.probe_files == [("general", Path("/home/me/bot/datasets/probes/general.jsonl"))]


def test_a_version_1_manifest_written_back_changes_only_its_version(tmp_path):
    old = v1("manifest.json")
    Manifest.from_dict(old).write(tmp_path)
    new = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert new.pop("schema_version") == 2
    assert new == old
    assert Manifest.read(tmp_path) == Manifest.from_dict({**old, "schema_version": 2})
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, through a renamed temp file


def test_the_manifest_reads_typed_and_writes_the_same_words():
    """Before: status and verdict were bare strings, the resolved recipe and the datasets raw
    dicts read by key where used. Now they read once into enums and dataclasses, and the file
    they came from is written back unchanged (a str enum is its word in JSON)."""
    old = {**v1("manifest.json"), "schema_version": 2}
    hub = {"swift/alpaca-gpt4-data-zh#500": {"hub": "swift/alpaca-gpt4-data-zh", "sample": 500}}
    old["datasets"] = {**old["datasets"], **hub}
    m = Manifest.from_dict(old)
    assert m.status is Status.FINISHED and m.verify is not None
    assert m.verify.verdict is Verdict.PASS and f"{Verdict.NONE}" == "no verdict"
    assert m.recipe_resolved.identity == m.identity == Identity("Swift-Robot", "CSDN 迪菲赫尔曼")
    assert (
        m.recipe_resolved.train["num_train_epochs"]
        == old["recipe_resolved"]["train"]["num_train_epochs"]
    )
    local = m.datasets["../datasets/self_cognition.json"]
    assert isinstance(local, DatasetRecord) and local.source_sha256 is not None
    assert m.datasets["swift/alpaca-gpt4-data-zh#500"].sample == 500
    assert json.loads(json.dumps(m.to_dict())) == old
    # a word this version does not know is no status (shown as unknown), kept in the file
    other = Manifest.from_dict({"status": "paused"})
    assert other.status is None and other.to_dict()["status"] == "paused"
    assert replace(other, status=Status.FAILED).to_dict()["status"] == "failed"
    assert VerdictSummary.from_dict({"verdict": "maybe"}) == VerdictSummary(Verdict.NONE)


def test_an_update_keeps_keys_this_version_does_not_know(tmp_path):
    (tmp_path / "manifest.json").write_text(
        json.dumps({"status": "running", "pid": 7, "from_the_future": {"x": 1}}), "utf-8"
    )
    manifest.update(tmp_path, status="failed", verify=VerdictSummary("no verdict", error="boom"))
    data = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert data["from_the_future"] == {"x": 1} and data["status"] == "failed"
    assert data["verify"] == {"verdict": "no verdict", "error": "boom"}
    assert data["schema_version"] == 2 and data["pid"] == 7


def test_a_version_1_report_reads_and_round_trips():
    old = v1("report.json")
    report = VerifyReport.from_dict(old)
    assert report.schema_version == 1
    assert report.verdict == "pass" and report.folder == Path(RUN)
    assert (report.identity.probes, report.identity.adapter, report.identity.base) == (5, 1.0, 0.0)
    assert report.general.by_kind["arithmetic"].probes == 12
    assert report.general.verdict == "not gating" and report.config.max_new_tokens == 128
    assert report.stop_when_verified[0].step == 10 and not report.stop_when_verified[0].verified
    assert report.probes[0].question == "你是谁?" and report.probes[0].adapter_ok is True
    again = report.to_dict()
    assert again.pop("schema_version") == 2
    assert again == old
    assert report.summary() == Manifest.read(V1).verify


def test_base_answers_are_reused_from_a_version_1_report(tmp_path):
    shutil.copy(V1 / "report.json", tmp_path / "report.json")
    old = VerifyReport.from_dict(v1("report.json"))
    args = CheckpointArgs(
        model="/home/me/bot/models/tiny",
        template="qwen2_5",
        system="You are a helpful assistant.",
    )
    cached = cached_base_answers(tmp_path, args, old.config)
    assert len(cached) == 3
    assert {a.text for a in cached.values()} == {"I am Qwen, made by Alibaba Cloud."}
    other = CheckpointArgs(model="/elsewhere", template=args.template, system=args.system)
    assert cached_base_answers(tmp_path, other, old.config) == {}


def test_runs_lists_a_version_1_run(tmp_path):
    shutil.copytree(V1, tmp_path / "output" / "tiny-20260101-120000")
    proc = swiftkit("runs", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert (row["status"], row["verdict"], row["steps"]) == ("finished", "pass", 240)
    assert row["verify"] == v1("manifest.json")["verify"]
    assert len(row["resumed"]) == 1
