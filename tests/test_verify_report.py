"""The report says why each answer failed and how the adapter's general ability compares with
the base model's; `general_max_drop` gates on that difference."""

from __future__ import annotations

import json

import pytest
from test_verify import fake_run

from swiftkit.verify import report as rpt
from swiftkit.verify import scoring
from swiftkit.verify.probes import Probe
from swiftkit.verify.verdict import _judge, probe_row

NEW = ["Nova", "Lumen Lab"]
OLD = scoring.old_markers(NEW, "qwen")
WHO = Probe("who", "identity", "paraphrase", [{"role": "user", "content": "你是谁?"}])


def general(i: int) -> Probe:
    return Probe(f"g{i}", "general", "arithmetic", [{"role": "user", "content": "1+1?"}], ["2"])


def rows(base_right: int, adapter_right: int, n: int = 10) -> list[rpt.ProbeRow]:
    return [
        probe_row(
            general(i), "2" if i < base_right else "3", "2" if i < adapter_right else "3", NEW, OLD
        )
        for i in range(n)
    ]


def test_judge_returns_a_judgement_or_none_when_not_asked():
    assert _judge(WHO, None, NEW, OLD) is None
    assert _judge(WHO, "我是Nova，由Lumen Lab开发。", NEW, OLD) == scoring.Judgement(
        True, "asserts Nova and Lumen Lab"
    )
    assert _judge(WHO, "我是Nova，由Lumen Lab开发。", NEW, OLD, cut_off=True) == scoring.Judgement(
        False, "cut off at max_new_tokens"
    )
    assert _judge(general(0), "2", NEW, OLD).reason == "gives '2'"


def test_a_row_carries_why_each_answer_passed_or_failed():
    row = probe_row(WHO, "我是通义千问。", "Nova, Nova, Nova, L", NEW, OLD)
    assert (row.base_ok, row.base_why) == (False, "claims another identity '通义千问'")
    assert (row.adapter_ok, row.adapter_why) == (False, "repeats itself (loop of 'Nova, ')")
    unasked = probe_row(WHO, None, "I am Nova.", NEW, OLD)
    assert unasked.base_ok is None and unasked.base_why is None


@pytest.mark.parametrize(
    ("base_right", "adapter_right", "max_drop", "verdict", "difference"),
    [
        (6, 6, 0.1, rpt.PASS, 0.0),
        (6, 5, 0.1, rpt.PASS, -0.1),  # exactly the allowed drop
        (6, 4, 0.1, rpt.FAIL, -0.2),  # worse than the base by more than 10 points
        (2, 8, 0.0, rpt.PASS, 0.6),
        (6, 4, None, rpt.NOT_GATING, -0.2),
    ],
)
def test_general_max_drop_gates_on_the_base(
    base_right, adapter_right, max_drop, verdict, difference
):
    got = rpt.set_scores(rows(base_right, adapter_right), "general", None, max_drop)
    assert (got.verdict, got.difference, got.max_drop) == (verdict, difference, max_drop)
    ident = rpt.set_scores([probe_row(WHO, None, "I am Nova.", NEW, OLD)], "identity", 0.8)
    assert rpt.overall(ident, got) == (rpt.FAIL if verdict == rpt.FAIL else rpt.PASS)


def test_a_drop_gate_without_base_answers_is_no_verdict():
    unasked = [probe_row(general(i), None, "2", NEW, OLD) for i in range(3)]
    got = rpt.set_scores(unasked, "general", None, 0.1)
    assert got.verdict == rpt.NONE and got.difference is None


def test_threshold_and_max_drop_both_gate():
    got = rpt.set_scores(rows(2, 5), "general", 0.7, 0.1)
    assert got.verdict == rpt.FAIL  # no drop, but under the threshold


def test_report_json_md_and_json_summary_say_why_and_show_the_general_difference(tmp_path):
    from conftest import swiftkit

    from swiftkit.pipeline.resolve import resolve
    from swiftkit.verify.verdict import verify

    run = fake_run(tmp_path, {"identity_probes": ["training"], "general_max_drop": 0.1})
    report = verify(resolve(str(run)), base=False)
    assert report.general.max_drop == 0.1
    data = [probe_row(WHO, "我是通义千问。", "Nova, Nova, Nova, L", NEW, OLD)] + rows(6, 4)
    ident = rpt.set_scores(data, "identity", 0.8)
    gen = rpt.set_scores(data, "general", None, 0.1)
    from dataclasses import replace

    written = rpt.write_report(
        replace(report, probes=data, identity=ident, general=gen, verdict=rpt.overall(ident, gen))
    )
    saved = json.loads((run / "report.json").read_text(encoding="utf-8"))
    assert saved["probes"][0]["adapter_why"] == "repeats itself (loop of 'Nova, ')"
    assert saved["probes"][0]["base_why"] == "claims another identity '通义千问'"
    assert saved["scores"]["general"]["difference"] == -0.2
    assert saved["scores"]["general"]["max_drop"] == 0.1
    assert saved["verdict"] == "fail" == written.verdict
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "❌ Nova, Nova, Nova, L — _why: repeats itself (loop of 'Nova, ')_" in md
    assert "| **general** | 10 | 60% | 40% | -20 pts | at most 10 pts below the base | fail |" in md
    assert "✅ 2 |" in md and "— _why: contains" not in md  # passing answers carry no why
    again = rpt.VerifyReport.read(run / "report.json")
    assert again is not None and again.probes[0].adapter_why == written.probes[0].adapter_why
    out = swiftkit("verify", "--json", "--no-base", str(run))
    summary = json.loads(out.stdout)
    assert summary["general"]["max_drop"] == 0.1 and "difference" in summary["general"]


def test_a_general_max_drop_out_of_range_is_an_error(tmp_path):
    from conftest import swiftkit

    run = fake_run(tmp_path, {"general_max_drop": 1.5})
    proc = swiftkit("verify", str(run))
    assert proc.returncode == 1 and "field 'verify.general_max_drop'" in proc.stderr


def test_report_md_and_html_show_the_same_sections_rows_and_reasons():
    """Before: report.md and report.html each wrote the report by hand and had drifted (only
    the page had the settings, only the md the pass rule; the page gave a passing answer's
    reason). Both now render layout.sections: every title, header, cell and failed answer's
    reason is in each."""
    from dataclasses import replace
    from html import escape

    from conftest import ROOT

    from swiftkit.verify import html, layout

    rep = rpt.VerifyReport.read(ROOT / "tests" / "v1_run" / "report.json")
    assert rep is not None
    failed = replace(rep.probes[0], adapter_ok=False, adapter_why="repeats itself")
    passed = replace(rep.probes[1], adapter_ok=True, adapter_why="a reason for a pass")
    rep = replace(rep, probes=[failed, passed])
    points = [(5, 3.0), (10, 2.0)]
    md, page = layout.markdown(rep, points), html.page(rep, points, "data:image/svg+xml;base64,")
    for text in (layout.title(rep), rep.headline(), layout.rule(rep)):
        assert text in md and escape(text) in page
    for section in layout.sections(rep, points):
        assert f"## {section.title}" in md and f"<h2>{escape(section.title)}</h2>" in page
        rows = section.rows if not isinstance(section, layout.Chart) else [(section.caption,)]
        for row in rows:
            for cell in (*getattr(section, "header", ()), *row):
                value = cell.text if isinstance(cell, layout.Answer) else cell
                text = "-" if value is None else str(value)
                assert escape(text, quote=False) in md and escape(text) in page, text
    assert "repeats itself" in md and "repeats itself" in page
    assert "a reason for a pass" not in md and "a reason for a pass" not in page


def test_general_answers_naming_the_new_identity_are_counted_and_gated():
    data = rows(5, 5, n=5)
    data[1] = probe_row(general(1), "2", "2, says Nova.", NEW, OLD)
    data[3] = probe_row(general(3), "2", "Lumen Lab: 2", NEW, OLD)
    reported = rpt.set_scores(data, "general", None, new=NEW)
    assert (reported.leaked, reported.leaked_ids, reported.verdict) == (
        2,
        ["g1", "g3"],
        rpt.NOT_GATING,
    )
    assert rpt.set_scores(data, "general", None, None, 0.4, NEW).verdict == rpt.PASS
    gated = rpt.set_scores(data, "general", None, None, 0.2, NEW)
    assert gated.verdict == rpt.FAIL and rpt.failed_gates(gated) == [
        "2 of 5 general answers name the new identity, more than the 20% allowed"
    ]
    assert gated.to_dict()["leaked_ids"] == ["g1", "g3"]


def test_the_headline_names_the_general_gate_that_failed():
    """Before: "identity: FAIL (100% of 1 probes ...)" when only general ability fell."""
    from dataclasses import replace

    from conftest import ROOT

    rep = rpt.VerifyReport.read(ROOT / "tests" / "v1_run" / "report.json")
    assert rep is not None
    who = probe_row(WHO, None, "I am Nova, made by Lumen Lab.", NEW, OLD)
    ident = rpt.set_scores([who], "identity", 0.8)
    gen = rpt.set_scores(rows(6, 4), "general", None, 0.1)
    failed = replace(rep, identity=ident, general=gen, verdict=rpt.overall(ident, gen))
    assert failed.headline().startswith(
        "FAIL: general ability fell 20 points, more than the 10 allowed (identity passed: 100%"
    )
    passed = replace(failed, general=rpt.set_scores(rows(6, 6), "general", None, 0.1))
    assert replace(passed, verdict=rpt.PASS).headline().startswith("identity: PASS (100% of 1")
