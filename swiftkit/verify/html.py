"""report.html: report.md's Markdown (layout.markdown, page=True: every text from the run
escaped, Markdown's marks included) rendered as one self-contained page: inline style, no
script, the loss chart an SVG embedded as a data: URI (an SVG shown as an image loads nothing
either)."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import TYPE_CHECKING

import markdown  # type: ignore[import-untyped]

from swiftkit.verify.layout import markdown as report_md
from swiftkit.verify.layout import title
from swiftkit.verify.report import VerifyReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPORT_HTML = "report.html"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1d1d1f;
       padding: 0 1em; } h1 { margin-bottom: .2em; }
.verdict { font-size: 1.3em; padding: .6em 1em; border-radius: .4em; }
.pass { background: #d9f2dd; color: #0b5a1c; } .fail { background: #f9d6d5; color: #8a1410; }
.none { background: #eee; color: #444; }
table { border-collapse: collapse; margin: .5em 0 1.5em; width: 100%; }
th, td { border: 1px solid #ccc; padding: .35em .6em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; } th { background: #f4f4f6; }
img.chart { max-width: 100%; border: 1px solid #ddd; }
"""


def svg_data_uri(fig: Figure) -> str:
    """The figure as an SVG data: URI, its text kept as text (labels stay searchable)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def page(report: VerifyReport, points: list[tuple[int, float]], chart: str | None) -> str:
    """The whole page. `chart` is a data: URI of the loss chart, or None without a loss."""
    text = report_md(report, points, chart, page=True)
    body = markdown.markdown(text, extensions=["tables", "attr_list"])
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
        f"<title>{escape(title(report))}</title>\n<style>{STYLE}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    )
