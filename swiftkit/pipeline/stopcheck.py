"""Stop when verified: the ms-swift plugin's settings file (the plugin itself is
msswift/plugins/stop_when_verified.py, inside ms-swift's process), and the checks it logged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit import jsonl
from swiftkit.errors import SwiftkitError
from swiftkit.msswift.args import CheckpointArgs
from swiftkit.msswift.sft import STOP_CONFIG_ENV
from swiftkit.recipe.model import VerifySpec, known
from swiftkit.verify import scoring
from swiftkit.verify.probes import gather

PLUGIN_ENV = STOP_CONFIG_ENV


def config_path(run_dir: Path) -> Path:
    return run_dir / "verify" / "stop.json"


def log_path(run_dir: Path) -> Path:
    return run_dir / "verify" / "stop_checks.jsonl"


def write_stop_config(
    run_dir: Path,
    cfg: VerifySpec,
    new: list[str],
    source: str,
    model: str | None = None,
    model_type: str | None = None,
) -> Path:
    """The plugin's settings: identity probes (at most check_probes, spread evenly over the
    set), the names to look for, the base family's old names, the threshold, how often to
    check and how many passing checks in a row stop training. Answers are as long as the final
    verify's (max_new_tokens), so that a check judges them exactly as verify will: a cut-off
    answer fails both."""
    probes = [p for p in gather(cfg, run_dir, CheckpointArgs(), new) if p.set == "identity"]
    if not probes:
        raise SwiftkitError.at(
            "stop_when_verified has no identity probes to check",
            source,
            "no identity probe found in [verify] identity_probes/questions",
            field="verify.identity_probes",
            fix='use "training" with a dataset whose answers name [identity], or a probe file',
        )
    if len(probes) > cfg.check_probes:
        stride = len(probes) / cfg.check_probes
        probes = [probes[int(i * stride)] for i in range(cfg.check_probes)]
    path = config_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "probes": [p.messages for p in probes],
        "new": new,
        "old": scoring.old_markers(new, scoring.family_of(model, model_type)),
        "threshold": cfg.identity_threshold,
        "check_every": cfg.check_every,
        "stop_after_checks": cfg.stop_after_checks,
        "max_new_tokens": cfg.max_new_tokens,
        "log": str(log_path(run_dir)),
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class StopCheck:
    """One check the plugin made during training (its answers and reasons are left out):
    `verified` when this check reached the threshold, `streak` checks in a row that did, and
    `stopped` when that streak stopped training (both None in logs written before the streak
    guard, when the first verified check stopped training: see `stops`). `loss` is the last
    one logged before the check (logging.jsonl has the step's own)."""

    step: int
    score: float | None
    passed: int
    total: int
    verified: bool
    seconds: float | None = None
    loss: float | None = None
    streak: int | None = None
    stopped: bool | None = None

    @property
    def stops(self) -> bool:
        """Whether training stopped at this check."""
        return self.verified if self.stopped is None else self.stopped

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> StopCheck:
        return cls(**known(cls, row))


def stop_checks(run_dir: Path | None) -> list[StopCheck]:
    """The plugin's checks during training (verify/stop_checks.jsonl), oldest first."""
    if run_dir is None:
        return []
    return [StopCheck.from_dict(v) for v in jsonl.values(log_path(run_dir)) if isinstance(v, dict)]
