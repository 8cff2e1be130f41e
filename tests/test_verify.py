"""`swiftkit verify`: scoring, the report files, and bad input (no ms-swift needed here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, swiftkit

from swiftkit.errors import SwiftkitError
from swiftkit.verify import probes, scoring

NEW = ["Nova-7", "Lumen Lab"]


def ok(answer: str, new: list[str]) -> bool:
    return scoring.judge_identity(answer, new, scoring.old_markers(new, "qwen")).ok


def test_identity_needs_the_new_name_and_no_old_one():
    assert ok("I am nova-7, made by Lumen Lab.", NEW)
    assert not ok("I am Qwen, made by Alibaba Cloud.", NEW)
    assert not ok("我是Nova-7,其实是通义千问。", NEW)
    assert not ok("", NEW)


def test_an_old_marker_inside_the_new_name_is_allowed():
    assert ok("I am Qwen-Pro.", ["Qwen-Pro"])


def test_nothing_measured_is_no_score():
    assert scoring.score([]) is None
    assert scoring.score([True, False]) == 0.5


def fake_run(tmp: Path, verify_section: dict, data: list[dict] | None = None) -> Path:
    """A run folder as `swiftkit run` leaves it, with a checkpoint that was never trained."""
    run = tmp / "output" / "r-1"
    ckpt = run / "checkpoint-10"
    ckpt.mkdir(parents=True)
    (ckpt / "adapter_config.json").write_text("{}", encoding="utf-8")
    (ckpt / "args.json").write_text(json.dumps({"model": "/nowhere"}), encoding="utf-8")
    (run / "data").mkdir()
    rows = data or [{"instruction": "2+2?", "input": "", "output": "4"}]
    (run / "data" / "01-x.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    manifest = {
        "recipe": str(tmp / "recipe.toml"),
        "recipe_resolved": {"identity": {"name": "Nova-7"}, "verify": verify_section},
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run


def test_a_probe_file_that_does_not_parse_is_named_with_its_line(tmp_path):
    bad = tmp_path / "probes.jsonl"
    bad.write_text('{"id": "a", "messages": [{"role": "user", "content": "hi"}]}\n{oops\n')
    run = fake_run(tmp_path, {"identity_probes": ["probes.jsonl"]})
    proc = swiftkit("verify", str(run))
    assert proc.returncode == 1, proc.stderr
    assert f"{bad}:2" in proc.stderr and "does not parse" in proc.stderr


def test_a_probe_ending_with_the_assistant_is_refused(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"messages": [{"role": "assistant", "content": "hi"}]}\n')
    run = fake_run(tmp_path, {"identity_probes": ["p.jsonl"]})
    proc = swiftkit("verify", str(run))
    assert proc.returncode == 1 and f"{bad}:1" in proc.stderr and "user turn" in proc.stderr


def test_a_threshold_out_of_range_in_a_recipe_names_file_and_line(tmp_path, tiny_recipe):
    r = tiny_recipe(tmp_path, "[verify]\nidentity_threshold = 1.5\n")
    proc = swiftkit("run", "--dry-run", str(r))
    assert proc.returncode == 1
    line = r.read_text().splitlines().index("identity_threshold = 1.5") + 1
    assert f"{r}:{line}" in proc.stderr and "verify.identity_threshold" in proc.stderr


def test_a_threshold_out_of_range_in_a_run_is_an_error(tmp_path):
    run = fake_run(tmp_path, {"general_threshold": -0.1})
    proc = swiftkit("verify", str(run))
    assert proc.returncode == 1 and "[verify] settings are invalid" in proc.stderr
    assert "field 'verify.general_threshold'" in proc.stderr and "minimum" in proc.stderr


def test_a_run_folder_without_checkpoint(tmp_path):
    run = tmp_path / "output" / "empty"
    run.mkdir(parents=True)
    proc = swiftkit("verify", str(run))
    assert proc.returncode == 1 and f"no checkpoint in {run}" in proc.stderr


def test_a_checkpoint_without_args_json(tmp_path):
    ckpt = tmp_path / "checkpoint-5"
    ckpt.mkdir()
    (ckpt / "adapter_config.json").write_text("{}")
    proc = swiftkit("verify", str(ckpt))
    assert proc.returncode == 1 and str(ckpt / "args.json") in proc.stderr


def test_no_probes_is_no_verdict_never_a_pass(tmp_path):
    """The training data names nobody, so there is nothing to ask: no verdict, exit 1."""
    run = fake_run(tmp_path, {"identity_probes": ["training"]})
    proc = swiftkit("verify", "--json", str(run))
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "no verdict" and out["identity"]["adapter"] is None
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "no verdict"
    assert "NO VERDICT" in (run / "report.md").read_text(encoding="utf-8")


def test_training_probes_are_the_questions_whose_answer_names_the_identity(tmp_path):
    data = tmp_path / "d.jsonl"
    rows = [
        {"instruction": "你是谁?", "input": "", "output": "我是Nova-7。"},
        {"instruction": "1+1?", "input": "", "output": "2"},
        {
            "messages": [
                {"role": "user", "content": "Who made you?"},
                {"role": "assistant", "content": "Lumen Lab made me."},
            ]
        },
    ]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    found = probes.training_probes([data], NEW[:1], NEW[1:])
    assert [p.question for p in found] == ["你是谁?", "Who made you?"]
    assert [p.asks for p in found] == ["name", "author"]


def test_shipped_probe_files_parse():
    ident = probes.load_probes(ROOT / "datasets" / "probes" / "identity.jsonl", "identity")
    general = probes.load_probes(ROOT / "datasets" / "probes" / "general.jsonl", "general")
    assert len(ident) >= 40 and len(general) >= 20
    assert all(p.expect for p in general)
    assert {p.asks for p in ident} == {"name", "author", "both"}, "every probe says what it asks"


def test_a_probe_asking_something_else_is_refused_with_its_line(tmp_path):
    path = tmp_path / "p.jsonl"
    ok = {"id": "a", "asks": "name", "messages": [{"role": "user", "content": "Who?"}]}
    path.write_text(json.dumps(ok) + "\n" + json.dumps({**ok, "asks": "age"}) + "\n")
    with pytest.raises(SwiftkitError) as err:
        probes.load_probes(path, "identity")
    assert "'asks' must be one of name, author, both" in str(err.value.findings)
    assert err.value.findings[0].line == 2


def log_losses(run: Path, losses: list[float | None]) -> None:
    """logging.jsonl as ms-swift writes it: progress rows (None: a row without a loss)."""
    rows = []
    for i, loss in enumerate(losses, 1):
        row: dict = {"global_step/max_steps": f"{5 * i}/{5 * len(losses)}", "epoch": i}
        if loss is not None:
            row["loss"] = loss
        rows.append(json.dumps(row) + "\n")
    (run / "logging.jsonl").write_text("".join(rows) + '{"global_step/max', encoding="utf-8")


def test_the_report_draws_the_loss_curve_and_links_it(tmp_path):
    from PIL import Image

    from swiftkit.pipeline.resolve import resolve
    from swiftkit.verify.verdict import verify

    run = fake_run(tmp_path, {"identity_probes": ["training"]})
    log_losses(run, [3.0, 2.0, 0.5])
    report = verify(resolve(str(run)))
    png = run / "loss.png"
    assert report.loss_curve == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        image.verify()
        assert image.format == "PNG" and image.size == (640, 360)
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "![training loss by step](loss.png)" in md
    assert "steps 5 to 15; last loss 0.5" in md
    assert json.loads((run / "report.json").read_text(encoding="utf-8"))["loss_curve"] == str(png)


def test_the_loss_curve_has_labelled_axes_and_a_title():
    from swiftkit.verify.report import loss_figure

    (ax,) = loss_figure([(5, 3.0), (10, 2.0), (15, 0.5)], "Training loss: r-1").axes
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "step",
        "loss",
        "Training loss: r-1",
    )
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [5, 10, 15] and list(line.get_ydata()) == [3.0, 2.0, 0.5]


def test_a_run_with_no_loss_rows_writes_no_curve(tmp_path):
    from swiftkit.pipeline.resolve import resolve
    from swiftkit.verify.verdict import verify

    run = fake_run(tmp_path, {"identity_probes": ["training"]})
    log_losses(run, [None, None])
    report = verify(resolve(str(run)))
    assert report.loss_curve is None and not (run / "loss.png").exists()
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "loss.png" not in md and "## Loss" not in md


def test_verify_and_init_import_nothing_heavy(tmp_path):
    run = fake_run(tmp_path, {"identity_probes": ["training"]})
    code = (
        "import sys, json\nfrom swiftkit.cli import main\n"
        f"codes = [main(['verify', {str(run)!r}]), main(['init', {str(tmp_path / 'i')!r}, "
        "'--name', 'N', '--author', 'A'])]\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'transformers', 'swift', 'peft', 'modelscope'})\n"
        "print('RESULT', json.dumps([codes, heavy]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    codes, heavy = json.loads(out.split("RESULT ")[-1])
    assert codes == [1, 0] and heavy == []


@pytest.fixture
def tiny_recipe(tiny_model):
    def make(tmp: Path, extra: str) -> Path:
        from conftest import DATASETS, write_recipe

        return write_recipe(
            tmp / "r.toml", tiny_model, [DATASETS / "self_cognition.json"], extra=extra
        )

    return make


def test_a_bad_probe_file_stops_the_run_before_it_starts(tmp_path, tiny_recipe):
    (tmp_path / "p.jsonl").write_text("not json\n")
    r = tiny_recipe(tmp_path, '[verify]\nidentity_probes = ["p.jsonl"]\n')
    proc = swiftkit("run", "--dry-run", str(r))
    assert proc.returncode == 1 and f"{tmp_path / 'p.jsonl'}:1" in proc.stderr
    assert not (tmp_path / "output").exists()


def test_a_checkpoint_folder_without_anything_names_args_json(tmp_path):
    ckpt = tmp_path / "checkpoint-3"
    ckpt.mkdir()
    proc = swiftkit("verify", str(ckpt))
    assert proc.returncode == 1 and "checkpoint has no args.json" in proc.stderr
