"""What the verify report shows, said once: its sections, their tables and rows (`sections`).
report.md (`markdown`, here) and report.html (html.py) both render these, so the two formats
cannot drift; each only says how a cell, a table and a chart look in it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from swiftkit.msswift.events import LOG_FILE
from swiftkit.pipeline.manifest import Manifest
from swiftkit.verify.report import FAIL, LOSS_PNG, PASS, VerifyReport, gate, pct, points_diff

# the [train] values shown (as ms-swift was given them), when the run has a manifest
SETTINGS = (
    "num_train_epochs learning_rate lora_rank lora_alpha target_modules max_length torch_dtype"
)
NO_LOSS = f"No loss logged (no {LOG_FILE} in the run folder)."


@dataclass(frozen=True)
class Answer:
    """An answer cell: the answer (None: not asked), whether it passed, why it failed."""

    text: str | None
    ok: bool | None
    why: str | None


Cell = str | Answer


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    strong: frozenset[int] = frozenset()  # rows whose first cell heads the rows below it
    numbers: frozenset[int] = frozenset()  # columns of figures
    long: frozenset[int] = frozenset()  # columns of free text: the answers table's question


@dataclass(frozen=True)
class Chart:  # the training loss by step
    title: str
    caption: str | None  # what it spans; None: no loss was logged


Section = Table | Chart  # a Table without a header: named values, the run's settings


def title(report: VerifyReport) -> str:
    return f"Verify: {', '.join(report.new_identity) or report.folder.name}"


def rule(report: VerifyReport) -> str:
    return (
        f"identity passes when the answer asserts what its probe asks of "
        f"{' and '.join(report.new_identity)} (not denied, not evaded), claims none of "
        f"{', '.join(report.old_identity)} (denying them is fine), is fluent (no loop, broken "
        "text or cut-off), is not the question again and says more than the name"
    )


def sections(report: VerifyReport, points: list[tuple[int, float]]) -> list[Section]:
    """The report below its title, verdict and rule, in order. `points`: (step, loss)."""
    rows: list[tuple[Cell, ...]] = []
    strong = set()  # the set's row, above its kinds' rows
    for name, s in (("identity", report.identity), ("general", report.general)):
        strong.add(len(rows))
        diff = points_diff(s.difference)
        rows.append((name, str(s.probes), pct(s.base), pct(s.adapter), diff, gate(s), s.verdict))
        for kind, k in s.by_kind.items():
            d = points_diff(None if k.base is None or k.adapter is None else k.adapter - k.base)
            rows.append((f"{name} / {kind}", str(k.probes), pct(k.base), pct(k.adapter), d, "", ""))
    header = ("probes", "count", "base model", "adapter", "adapter − base", "gate", "verdict")
    numbers = frozenset({1, 2, 3, 4})
    out: list[Section] = [Table("scores", "Scores", header, rows, frozenset(strong), numbers)]
    if report.stop_when_verified:
        head = ("step", "loss", "identity", "passed", "in a row", "stopped")
        checks: list[tuple[Cell, ...]] = [
            (str(c.step), "-" if c.loss is None else f"{c.loss:.4g}", pct(c.score))
            + ("yes" if c.verified else "no", "-" if c.streak is None else str(c.streak))
            + ("yes" if c.stops else "no",)
            for c in report.stop_when_verified
        ]
        name = "Checks during training (stop when verified)"
        out.append(Table("checks", name, head, checks, numbers=frozenset({0, 1, 2, 4})))
    caption = None
    if points:
        caption = f"steps {points[0][0]} to {points[-1][0]}; last loss {points[-1][1]:.4g}"
    out.append(Chart("Training loss", caption))
    answers: list[tuple[Cell, ...]] = [
        (r.id, f"{r.set} / {r.kind}", r.question, Answer(r.base, r.base_ok, r.base_why))
        + (Answer(r.adapter, r.adapter_ok, r.adapter_why),)
        for r in report.probes
    ]
    sides = ("id", "set / kind", "question", "before (base model)", "after (adapter)")
    out.append(Table("answers", "Before and after", sides, answers, long=frozenset({2})))
    if report.judged():  # the judge's grades where they differ from the rules'
        cols = ("id", "question", "answer (adapter)", "judge")
        grade = {None: "unreadable", True: "PASS", False: "FAIL"}
        off: list[tuple[Cell, ...]] = [
            (r.id, r.question, Answer(r.adapter, r.adapter_ok, r.adapter_why))
            + (f"{grade[r.judge_ok]}: {r.judge_why}",)
            for r in report.disagreements()
        ]
        out.append(Table("judge", str(report.judged()), cols, off, long=frozenset({1})))
    # the run's key settings: what was trained, how, and how it was checked
    manifest = Manifest.read(report.folder) if report.run_dir else Manifest()
    train = manifest.recipe_resolved.train
    leaked = None if report.general.leaked_ids is None else report.general.leaked_ids or ["none"]
    named: list[tuple[str, Any]] = [
        ("checkpoint", report.checkpoint),
        ("run folder", report.run_dir),
        ("recipe", manifest.recipe),
        ("base model", report.base_model),
        ("template", report.template),
        ("system prompt", report.system),
        ("new identity", ", ".join(report.new_identity)),
        ("old identity (must not appear)", ", ".join(report.old_identity)),
        ("preset", manifest.preset),
        *[(key, train[key]) for key in SETTINGS.split() if key in train],
        ("steps", manifest.steps),
        ("last loss", manifest.last_loss),
        ("training seconds", manifest.seconds),
        ("identity gate", gate(report.identity)),
        ("general gate", gate(report.general)),
        ("general answers naming the new identity", ", ".join(leaked) if leaked else leaked),
        ("measured", report.measured),
    ]
    settings: list[tuple[Cell, ...]] = [(k, "-" if v is None else str(v)) for k, v in named]
    out.append(Table("settings", "Settings", (), settings, strong=frozenset(range(len(settings)))))
    return out


# ---- report.md, and the Markdown report.html renders ----

_MARKS = re.compile(r"([\\`*_{}\[\]()#+.!|-])")  # Markdown's marks, for a backslash each


def _md(text: Any, limit: int | None = 160) -> str:
    """A cell: pipes and HTML escaped (a model's answer with `<img src=http://...>` would load
    it in every Markdown viewer that shows HTML); in report.md one line, long text cut; for
    report.html (`limit` None) whole, its lines kept, every Markdown mark escaped too (an
    answer's `![x](http://...)` is text there, never an image the page loads)."""
    if text is None:
        return "-"
    if limit is None:
        lines = str(text).splitlines() or [""]
        return "<br>".join(_MARKS.sub(r"\\\1", html.escape(line, quote=False)) for line in lines)
    t = " ".join(str(text).split())
    t = t if len(t) <= limit else t[: limit - 1] + "…"
    return html.escape(t, quote=False).replace("|", "\\|")


def _md_cell(cell: Cell, limit: int | None) -> str:
    if not isinstance(cell, Answer):
        return _md(cell, limit)
    if cell.text is None:
        return "not asked"
    mark = {True: "✅ ", False: "❌ ", None: ""}[cell.ok]
    why = f" — _why: {_md(cell.why, limit and 100)}_" if cell.ok is False and cell.why else ""
    return f"{mark}{_md(cell.text, limit and 160)}{why}"


def markdown(
    report: VerifyReport,
    points: list[tuple[int, float]],
    chart: str | None = LOSS_PNG,
    page: bool = False,
) -> str:
    """report.md; `page`: the Markdown report.html renders (cells whole and escaped for it,
    the verdict a coloured banner, `chart` the loss chart's data: URI, None: not drawn)."""

    def cut(limit: int) -> int | None:
        return None if page else limit

    head = [title(report), report.headline(), rule(report)]
    name, headline, how = (_md(t, None) for t in head) if page else head
    md = [f"# {name}", "", f"**{headline}**", "", f"_{how}_"]
    if page:
        verdict = {PASS: "pass", FAIL: "fail"}.get(report.verdict, "none")
        md[3:3] = [f"{{: #verdict .verdict .{verdict} }}"]
    for section in sections(report, points):
        md += ["", f"## {_md(section.title, None) if page else section.title}", ""]
        if isinstance(section, Chart):
            if section.caption is None or chart is None:
                md.append(NO_LOSS)
            elif page:
                img = f"<img id='loss' class='chart' alt='training loss by step' src='{chart}'>"
                md += [f"{img}  ", section.caption]
            else:
                md += [f"![training loss by step]({chart})  ", section.caption]
        elif not section.header:
            md += [f"- {key}: {_md(value, cut(400))}" for key, value in section.rows]
        else:
            md += [f"| {' | '.join(section.header)} |", "|" + " --- |" * len(section.header)]
            for i, row in enumerate(section.rows):
                limits = [80 if j in section.long else 160 for j in range(len(row))]
                cells = [_md_cell(c, cut(n)) for c, n in zip(row, limits, strict=True)]
                if i in section.strong:
                    cells[0] = f"**{cells[0]}**"
                md.append("|" + "|".join(f" {c} " if c else " " for c in cells) + "|")
    return "\n".join(md) + "\n"
