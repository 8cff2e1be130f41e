"""report.html: the verify report (layout.py's sections, as report.md) as one self-contained
page: inline style, no script, the loss chart an SVG embedded as a data: URI (an SVG shown as
an image loads nothing either); every text from the run goes through html.escape."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import TYPE_CHECKING, Any

from swiftkit.verify.layout import NO_LOSS, Answer, Cell, Chart, Table, rule, sections, title
from swiftkit.verify.report import FAIL, NONE, PASS, VerifyReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPORT_HTML = "report.html"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1d1d1f;
       padding: 0 1em; } h1 { margin-bottom: .2em; }
.verdict { font-size: 1.3em; font-weight: bold; padding: .6em 1em; border-radius: .4em; }
.pass { background: #d9f2dd; color: #0b5a1c; } .fail { background: #f9d6d5; color: #8a1410; }
.none { background: #eee; color: #444; }
table { border-collapse: collapse; margin: .5em 0 1.5em; width: 100%; }
th, td { border: 1px solid #ccc; padding: .35em .6em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; } th { background: #f4f4f6; }
#answers { table-layout: fixed; } #answers col.id { width: 7%; }
#answers col.kind { width: 10%; } #answers col.q { width: 17%; } #answers col.a { width: 33%; }
td.num { text-align: right; white-space: nowrap; } .answer { white-space: pre-wrap; }
.ok { color: #0b5a1c; font-weight: bold; } .bad { color: #8a1410; font-weight: bold; }
.why { color: #666; font-size: .85em; margin-top: .3em; }
img.chart { max-width: 100%; border: 1px solid #ddd; } code { background: #f4f4f6; padding: 0 .2em }
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


def _cell(cell: Cell, tag: str = "td", css: str = "") -> str:
    attr = f" class='{css}'" if css else ""
    if not isinstance(cell, Answer):
        return f"<{tag}{attr}>{_e(cell)}</{tag}>"
    if cell.text is None:
        return "<td>not asked</td>"
    mark = ""
    if cell.ok is not None:
        mark = "<span class='ok'>✓ pass</span>" if cell.ok else "<span class='bad'>✗ fail</span>"
    reason = f"<div class='why'>{_e(cell.why)}</div>" if cell.ok is False and cell.why else ""
    return f"<td>{mark}<div class='answer'>{_e(cell.text)}</div>{reason}</td>"


def _table(t: Table) -> list[str]:
    cols = ""
    if t.id == "answers":  # fixed widths: the two answers side by side get the room
        cols = "<colgroup>" + "".join(f"<col class='{c}'>" for c in "id kind q a a".split())
        cols += "</colgroup>"
    out = [f"<table id='{t.id}'>{cols}"]
    if t.header:
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in t.header) + "</tr>")
    for i, row in enumerate(t.rows):
        tags = ["th" if j == 0 and i in t.strong else "td" for j in range(len(row))]
        css = [
            "num" if j in t.numbers else "answer" if j in t.long else "" for j in range(len(row))
        ]
        out.append("<tr>" + "".join(map(_cell, row, tags, css)) + "</tr>")
    return [*out, "</table>"]


def page(report: VerifyReport, points: list[tuple[int, float]], chart: str | None) -> str:
    """The whole page. `chart` is a data: URI of the loss chart, or None without a loss."""
    verdict = {PASS: "pass", FAIL: "fail", NONE: "none"}.get(report.verdict, "none")
    html = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title(report))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_e(title(report))}</h1>",
        f"<p id='verdict' class='verdict {verdict}'>{_e(report.headline())}</p>",
        f"<p class='rule'>{_e(rule(report))}</p>",
    ]
    for section in sections(report, points):
        html.append(f"<h2>{_e(section.title)}</h2>")
        if isinstance(section, Chart):
            img = f"<img id='loss' class='chart' alt='training loss by step' src='{chart}'>"
            shown = [img, f"<p>{_e(section.caption)}</p>"]
            html += shown if chart and section.caption else [f"<p>{NO_LOSS}</p>"]
        else:
            html += _table(section)
    html += ["</body></html>", ""]
    return "\n".join(html)
