"""The verify report: scores per probe set and kind, the verdict, and its files in the run
folder (report.json, report.md, report.html, loss.png). report.json version 2 carries
"schema_version": 2; a file without it is version 1 and reads the same way."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swiftkit.msswift import events
from swiftkit.pipeline.manifest import Verdict, VerdictSummary
from swiftkit.pipeline.stopcheck import StopCheck
from swiftkit.recipe.model import VerifySpec, known
from swiftkit.verify import scoring
from swiftkit.verify.general import leaked as answers_naming

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

PASS, FAIL, NONE, NOT_GATING = Verdict.PASS, Verdict.FAIL, Verdict.NONE, Verdict.NOT_GATING
SCHEMA_VERSION = 2
REPORT_JSON, REPORT_MD, LOSS_PNG = "report.json", "report.md", "loss.png"


@dataclass(frozen=True)
class KindScore:
    probes: int
    base: float | None
    adapter: float | None


@dataclass(frozen=True)
class SetScore:
    probes: int
    threshold: float | None
    base: float | None
    adapter: float | None
    by_kind: dict[str, KindScore]
    verdict: Verdict
    max_drop: float | None = None  # the adapter may score at most this much below the base
    difference: float | None = None  # adapter - base, when both were measured
    max_leak: float | None = None  # at most this fraction of answers may name the new identity
    leaked: int | None = None  # general: how many of the adapter's answers name it, and which
    leaked_ids: list[str] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SetScore:
        kinds = {k: KindScore(**known(KindScore, v)) for k, v in data["by_kind"].items()}
        verdict = Verdict.parse(data.get("verdict")) or NONE
        return cls(**{**known(cls, data), "by_kind": kinds, "verdict": verdict})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProbeRow:
    """One probe, its answers before (base model) and after (adapter), whether each passed
    (None: not asked) and why (reports before the scorer said why have None)."""

    id: str
    set: str
    kind: str
    messages: list[dict[str, Any]]
    expect: list[str]
    question: str
    base: str | None
    base_ok: bool | None
    adapter: str | None
    adapter_ok: bool | None
    base_why: str | None = None
    adapter_why: str | None = None
    base_finish: str | None = None  # the server's finish_reason: "length" is cut off
    adapter_finish: str | None = None
    judge_ok: bool | None = None  # the judge model's grade of the adapter's answer (None: none)
    judge_why: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    verdict: Verdict
    checkpoint: str
    run_dir: str | None
    base_model: str | None
    template: str | None
    system: str | None
    new_identity: list[str]
    old_identity: list[str]
    config: VerifySpec
    identity: SetScore
    general: SetScore
    stop_when_verified: list[StopCheck]
    base_answers_reused: int
    probes: list[ProbeRow]
    measured: str
    loss_curve: str | None = None
    served: str | None = None  # `verify --url`: the model id and URL asked; None: a checkpoint
    judge: str | None = None  # the judge's model id and URL, when one graded the answers
    schema_version: int = SCHEMA_VERSION

    @property
    def folder(self) -> Path:
        return Path(self.run_dir or self.checkpoint)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyReport:
        base_dir = Path(data["checkpoint"]).parent  # unknown here; only probe paths need it
        checks = data.get("stop_when_verified") or []
        return cls(
            **{
                **known(cls, data),
                "verdict": Verdict.parse(data.get("verdict")) or NONE,
                "config": VerifySpec.from_dict(data.get("config"), base_dir),
                "identity": SetScore.from_dict(data["scores"]["identity"]),
                "general": SetScore.from_dict(data["scores"]["general"]),
                "stop_when_verified": [StopCheck.from_dict(c) for c in checks],
                "probes": [ProbeRow(**known(ProbeRow, r)) for r in data.get("probes") or []],
                "schema_version": data.get("schema_version", 1),  # none before version 2
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """report.json: the set scores under "scores" after the config; fields added since
        version 2 began left out while unset, so an older report written back is unchanged."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        as_dict = asdict(self)
        for key, value in as_dict.items():
            if key == "config":
                out[key] = self.config.to_dict()
                out["scores"] = {k: _unset_left_out(as_dict[k]) for k in ("identity", "general")}
            elif key in ("probes", "stop_when_verified"):
                out[key] = [_unset_left_out(row) for row in value]
            elif key in LATER_FIELDS and value is None:
                continue
            elif key not in ("identity", "general", "schema_version"):
                out[key] = value
        return out

    @classmethod
    def read(cls, path: Path) -> VerifyReport | None:
        """An earlier report.json; None when it is missing or not a report."""
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def summary(self) -> VerdictSummary:
        """What manifest.json keeps of the report (for `swiftkit runs`)."""
        ident, gen = self.identity, self.general
        return VerdictSummary(
            verdict=self.verdict,
            identity=ident.adapter,
            identity_base=ident.base,
            identity_threshold=ident.threshold,
            identity_probes=ident.probes,
            general=gen.adapter,
            general_base=gen.base,
            general_probes=gen.probes,
            checkpoint=self.checkpoint,
            report=str(self.folder / REPORT_MD),
            measured=self.measured,
        )

    def disagreements(self) -> list[ProbeRow]:
        """The identity answers the judge graded otherwise than the rules (or could not)."""
        graded = [r for r in self.probes if r.judge_why is not None]
        return [r for r in graded if r.judge_ok is None or r.judge_ok != r.adapter_ok]

    def judged(self) -> str | None:
        """One line on the judge's grades beside the rules'; None when no judge graded."""
        graded = [r for r in self.probes if r.judge_why is not None]
        if not self.judge or not graded:
            return None
        off = self.disagreements()
        ids = f": {', '.join(r.id for r in off)}" if off else ""
        return (
            f"judge ({self.judge}): agrees with the rules on {len(graded) - len(off)} of "
            f"{len(graded)} identity answers; differs on {len(off)}{ids}"
        )

    def headline(self) -> str:
        """The verdict and the gate that decided it: the identity's score, or the general
        gate that failed ("general ability fell 18 points, more than the 10 allowed")."""
        ident = self.identity
        word = {PASS: "PASS", FAIL: "FAIL", NONE: "NO VERDICT"}[self.verdict]
        failed = "; ".join(failed_gates(self.general)) if self.verdict == FAIL else ""
        if ident.adapter is None:
            return f"identity: {word} (nothing measured: no identity probes or no answers)"
        scores = (
            f"{pct(ident.adapter)} of {ident.probes} probes, threshold "
            f"{pct(ident.threshold)}; base model {pct(ident.base)}"
        )
        if failed and ident.verdict == PASS:
            return f"FAIL: {failed} (identity passed: {scores})"
        return f"identity: {word} ({scores})" + (f"; also {failed}" if failed else "")


# Fields added after report.json version 2 was first written: left out while None.
LATER_FIELDS = frozenset(
    {"base_why", "adapter_why", "max_drop", "difference", "loss", "streak", "stopped"}
    | {"base_finish", "adapter_finish", "served", "max_leak", "leaked", "leaked_ids"}
    | {"judge", "judge_ok", "judge_why"}
)


def _unset_left_out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not (k in LATER_FIELDS and v is None)}


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def set_scores(
    rows: list[ProbeRow],
    set_name: str,
    threshold: float | None,
    max_drop: float | None = None,
    max_leak: float | None = None,
    new: Sequence[str] = (),
) -> SetScore:
    """Scores of one set, measured answers only: nothing measured is no score, never a pass.
    It fails below `threshold`, more than `max_drop` below the base model's score (a gate on
    the base that was not asked is no verdict), or with more than `max_leak` of its answers
    naming the `new` identity (counted when `new` is given)."""
    chosen = [r for r in rows if r.set == set_name]
    asked = [(r.id, r.adapter) for r in chosen if r.adapter is not None]
    leaked = answers_naming(asked, new) if new else None

    def scores(of: list[ProbeRow]) -> tuple[float | None, float | None]:  # (base, adapter)
        base = scoring.score([bool(r.base_ok) for r in of if r.base is not None])
        return base, scoring.score([bool(r.adapter_ok) for r in of if r.adapter is not None])

    kinds = {r.kind: [x for x in chosen if x.kind == r.kind] for r in chosen}
    before, after = scores(chosen)
    difference = None if after is None or before is None else round(after - before, 6)
    if threshold is None and max_drop is None and max_leak is None:
        verdict = NOT_GATING
    elif after is None or (max_drop is not None and difference is None):
        verdict = NONE
    else:
        below = threshold is not None and after < threshold
        dropped = max_drop is not None and difference is not None and difference < -max_drop
        leaks = max_leak is not None and len(leaked or []) > max_leak * len(asked)
        verdict = FAIL if below or dropped or leaks else PASS
    return SetScore(
        probes=len(chosen),
        threshold=threshold,
        base=before,
        adapter=after,
        by_kind={k: KindScore(len(v), *scores(v)) for k, v in kinds.items()},
        verdict=verdict,
        max_drop=max_drop,
        difference=difference,
        max_leak=max_leak,
        leaked=None if leaked is None else len(leaked),
        leaked_ids=leaked,
    )


def overall(identity: SetScore, general: SetScore) -> Verdict:
    """Pass only when every gating set passes; no verdict when any gating set has none."""
    gates = any(x is not None for x in (general.threshold, general.max_drop, general.max_leak))
    verdicts = [identity.verdict] + ([general.verdict] if gates else [])
    if NONE in verdicts:
        return NONE
    return PASS if all(v == PASS for v in verdicts) else FAIL


def loss_figure(points: list[tuple[int, float]], title: str) -> Figure:
    """The loss by step (matplotlib imported here: the parent stays light until a report)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    ax = fig.add_subplot()
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 50 else "")
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.set_ylim(bottom=min(0.0, min(p[1] for p in points)))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def failed_gates(s: SetScore) -> list[str]:
    """Each general gate the set failed, in words."""
    out = []
    if s.threshold is not None and s.adapter is not None and s.adapter < s.threshold:
        out.append(f"general ability {pct(s.adapter)}, below the {pct(s.threshold)} required")
    if s.max_drop is not None and s.difference is not None and s.difference < -s.max_drop:
        fell, allowed = -100 * s.difference, 100 * s.max_drop
        out.append(f"general ability fell {fell:.0f} points, more than the {allowed:.0f} allowed")
    if s.max_leak is not None and s.leaked is not None and s.leaked > s.max_leak * s.probes:
        out.append(
            f"{s.leaked} of {s.probes} general answers name the new identity, more than the "
            f"{pct(s.max_leak)} allowed"
        )
    return out


def points_diff(diff: float | None) -> str:
    return "-" if diff is None else f"{100 * diff:+.0f} pts"


def gate(s: SetScore) -> str:
    """What the set must reach: its threshold, and no more than max_drop below the base."""
    parts = [f">= {pct(s.threshold)}"] if s.threshold is not None else []
    if s.max_drop is not None:
        parts.append(f"at most {100 * s.max_drop:.0f} pts below the base")
    if s.max_leak is not None:
        parts.append(f"at most {pct(s.max_leak)} of answers naming the new identity")
    return "; ".join(parts) or "-"


def write_report(report: VerifyReport) -> VerifyReport:
    """report.json/.md/.html (and loss.png when a loss was logged); the report as written."""
    from swiftkit.verify import html, layout  # they import this module

    out_dir = report.folder
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = events.read_steps(events.log_path(out_dir))
    points = [(s.step, s.loss) for s in steps if s.loss is not None]
    curve = chart = None
    if points:
        fig = loss_figure(points, f"Training loss: {out_dir.name}")
        fig.savefig(out_dir / LOSS_PNG)
        curve = str(out_dir / LOSS_PNG)
        chart = html.svg_data_uri(fig)
    report = replace(report, loss_curve=curve)
    text = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    (out_dir / REPORT_JSON).write_text(text, encoding="utf-8")
    (out_dir / REPORT_MD).write_text(layout.markdown(report, points), encoding="utf-8")
    (out_dir / html.REPORT_HTML).write_text(html.page(report, points, chart), encoding="utf-8")
    return report
