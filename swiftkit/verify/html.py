"""report.html: the verify report as one self-contained page to look at: the verdict, scores
per probe kind, the before/after answers side by side (with the scorer's reasons when it gives
them), the loss curve and the run's key settings.

Self-contained means nothing is fetched: the style is inline, no script, and the loss chart is
an SVG drawn by matplotlib, embedded as a data: URI (an SVG shown as an image cannot load
anything either). Every text from the run goes through html.escape.
"""

from __future__ import annotations

import base64
import io
from html import escape
from typing import TYPE_CHECKING, Any

from swiftkit.msswift.events import LOG_FILE
from swiftkit.pipeline.manifest import Manifest, Verdict
from swiftkit.verify.report import (
    FAIL,
    NONE,
    PASS,
    ProbeRow,
    SetScore,
    VerifyReport,
    gate,
    pct,
    points_diff,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPORT_HTML = "report.html"
# the [train] values shown (as ms-swift was given them), when the run has a manifest
SETTINGS = (
    "num_train_epochs",
    "learning_rate",
    "lora_rank",
    "lora_alpha",
    "target_modules",
    "max_length",
    "torch_dtype",
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1d1d1f;
       padding: 0 1em; }
h1 { margin-bottom: .2em; }
.verdict { font-size: 1.3em; font-weight: bold; padding: .6em 1em; border-radius: .4em; }
.pass { background: #d9f2dd; color: #0b5a1c; }
.fail { background: #f9d6d5; color: #8a1410; }
.none { background: #eee; color: #444; }
table { border-collapse: collapse; margin: .5em 0 1.5em; width: 100%; }
th, td { border: 1px solid #ccc; padding: .35em .6em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
#answers { table-layout: fixed; }
#answers col.id { width: 7%; } #answers col.kind { width: 10%; }
#answers col.q { width: 17%; } #answers col.a { width: 33%; }
th { background: #f4f4f6; }
td.num { text-align: right; white-space: nowrap; }
.ok { color: #0b5a1c; font-weight: bold; }
.bad { color: #8a1410; font-weight: bold; }
.why { color: #666; font-size: .85em; margin-top: .3em; }
.answer { white-space: pre-wrap; }
img.chart { max-width: 100%; border: 1px solid #ddd; }
code { background: #f4f4f6; padding: 0 .2em; }
"""


def svg_data_uri(fig: Figure) -> str:
    """The figure as an SVG data: URI, its text kept as text (labels stay searchable)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _e(value: Any) -> str:
    return escape("-" if value is None else str(value))


def _verdict_class(verdict: Verdict) -> str:
    return {PASS: "pass", FAIL: "fail", NONE: "none"}.get(verdict, "none")


def _scores(report: VerifyReport) -> list[str]:
    """The same table as report.md: each set, then each kind, before and after."""
    out = [
        "<table id='scores'><tr><th>probes</th><th>count</th><th>base model</th>"
        "<th>adapter</th><th>adapter − base</th><th>gate</th><th>verdict</th></tr>"
    ]
    sets: tuple[tuple[str, SetScore], ...] = (
        ("identity", report.identity),
        ("general", report.general),
    )
    for name, s in sets:
        out.append(
            f"<tr><th>{_e(name)}</th><td class='num'>{s.probes}</td>"
            f"<td class='num'>{pct(s.base)}</td><td class='num'>{pct(s.adapter)}</td>"
            f"<td class='num'>{points_diff(s.difference)}</td><td>{_e(gate(s))}</td>"
            f"<td>{_e(s.verdict)}</td></tr>"
        )
        for kind, k in s.by_kind.items():
            diff = None if k.base is None or k.adapter is None else k.adapter - k.base
            out.append(
                f"<tr><td>{_e(name)} / {_e(kind)}</td><td class='num'>{k.probes}</td>"
                f"<td class='num'>{pct(k.base)}</td><td class='num'>{pct(k.adapter)}</td>"
                f"<td class='num'>{points_diff(diff)}</td><td></td><td></td></tr>"
            )
    out.append("</table>")
    return out


def _answer(text: str | None, ok: bool | None, why: str | None) -> str:
    """An answer cell: pass or fail, the answer, and the scorer's reason when it gave one."""
    if text is None:
        return "<td>not asked</td>"
    mark = ""
    if ok is not None:
        mark = "<span class='ok'>✓ pass</span>" if ok else "<span class='bad'>✗ fail</span>"
    reason = f"<div class='why'>{_e(why)}</div>" if why else ""
    return f"<td>{mark}<div class='answer'>{_e(text)}</div>{reason}</td>"


def _answers(rows: list[ProbeRow]) -> list[str]:
    out = [
        "<table id='answers'><colgroup><col class='id'><col class='kind'><col class='q'>"
        "<col class='a'><col class='a'></colgroup>"
        "<tr><th>id</th><th>set / kind</th><th>question</th>"
        "<th>before (base model)</th><th>after (adapter)</th></tr>"
    ]
    for r in rows:
        out.append(
            f"<tr><td>{_e(r.id)}</td><td>{_e(r.set)} / {_e(r.kind)}</td>"
            f"<td class='answer'>{_e(r.question)}</td>"
            f"{_answer(r.base, r.base_ok, r.base_why)}"
            f"{_answer(r.adapter, r.adapter_ok, r.adapter_why)}</tr>"
        )
    out.append("</table>")
    return out


def _settings(report: VerifyReport) -> list[tuple[str, Any]]:
    """The run's key settings: what was trained, how, and how it was checked."""
    manifest = Manifest.read(report.folder) if report.run_dir else Manifest()
    train = manifest.recipe_resolved.train
    rows: list[tuple[str, Any]] = [
        ("checkpoint", report.checkpoint),
        ("run folder", report.run_dir),
        ("recipe", manifest.recipe),
        ("base model", report.base_model),
        ("template", report.template),
        ("system prompt", report.system),
        ("new identity", ", ".join(report.new_identity)),
        ("old identity (must not appear)", ", ".join(report.old_identity)),
    ]
    rows.append(("preset", manifest.preset))
    for key in SETTINGS:
        if key in train:
            rows.append((key, train[key]))
    rows += [
        ("steps", manifest.steps),
        ("last loss", manifest.last_loss),
        ("training seconds", manifest.seconds),
        ("identity gate", gate(report.identity)),
        ("general gate", gate(report.general)),
        ("measured", report.measured),
    ]
    return rows


def page(report: VerifyReport, points: list[tuple[int, float]], chart: str | None) -> str:
    """The whole page. `chart` is a data: URI of the loss chart, or None without a loss."""
    names = ", ".join(report.new_identity) or report.folder.name
    html = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>Verify: {_e(names)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Verify: {_e(names)}</h1>",
        f"<p id='verdict' class='verdict {_verdict_class(report.verdict)}'>"
        f"{_e(report.headline())}</p>",
        "<h2>Scores</h2>",
        *_scores(report),
    ]
    if report.stop_when_verified:
        html += ["<h2>Checks during training (stop when verified)</h2>", "<table id='checks'>"]
        html.append(
            "<tr><th>step</th><th>loss</th><th>identity</th><th>passed</th><th>in a row</th>"
            "<th>stopped</th></tr>"
        )
        for c in report.stop_when_verified:
            loss = "-" if c.loss is None else f"{c.loss:.4g}"
            html.append(
                f"<tr><td class='num'>{c.step}</td><td class='num'>{loss}</td>"
                f"<td class='num'>{pct(c.score)}</td><td>{'yes' if c.verified else 'no'}</td>"
                f"<td class='num'>{_e(c.streak)}</td><td>{'yes' if c.stops else 'no'}</td></tr>"
            )
        html.append("</table>")
    html.append("<h2>Training loss</h2>")
    if chart and points:
        html += [
            f"<img id='loss' class='chart' alt='training loss by step' src='{chart}'>",
            f"<p>steps {points[0][0]} to {points[-1][0]}; last loss {points[-1][1]:.4g}</p>",
        ]
    else:
        html.append(f"<p>No loss logged (no {LOG_FILE} in the run folder).</p>")
    html += ["<h2>Before and after</h2>", *_answers(report.probes)]
    html += ["<h2>Settings</h2>", "<table id='settings'>"]
    html += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _settings(report)]
    html += ["</table>", "</body></html>", ""]
    return "\n".join(html)
