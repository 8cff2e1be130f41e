"""Stop when verified: the ms-swift plugin's settings file (the plugin itself is
msswift/plugins/stop_when_verified.py, inside ms-swift's process), and the checks it logged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit import jsonl
from swiftkit.errors import SwiftkitError, writing
from swiftkit.msswift.args import CheckpointArgs
from swiftkit.msswift.sft import STOP_CONFIG_ENV
from swiftkit.recipe.model import Recipe, VerifySpec, known
from swiftkit.verify import scoring
from swiftkit.verify.probes import gather

PLUGIN_ENV = STOP_CONFIG_ENV
PLUGIN_BATCH = 8  # probes per generate call in the plugin


def config_path(run_dir: Path) -> Path:
    return run_dir / "verify" / "stop.json"


def log_path(run_dir: Path) -> Path:
    return run_dir / "verify" / "stop_checks.jsonl"


def write_stop_config(run_dir: Path, rec: Recipe) -> Path:
    """The plugin's settings, all of them (it keeps no defaults): identity probes (at most
    check_probes, spread over the set), the new and old names, threshold, check_every,
    stop_after_checks, batch. Answers are as long as the final verify's (max_new_tokens), so a
    check judges them as verify will. The log is named relative to this file, so the settings
    do not name the folder (`render` hashes them)."""
    cfg, new = rec.verify, rec.identity.new
    probes = [p for p in gather(cfg, run_dir, CheckpointArgs(), new) if p.set == "identity"]
    if not probes:
        raise SwiftkitError.at(
            "stop_when_verified has no identity probes to check",
            str(rec.path),
            "no identity probe found in [verify] identity_probes/questions",
            field="verify.identity_probes",
            fix='use "training" with a dataset whose answers name [identity], or a probe file',
        )
    stride = max(1.0, len(probes) / cfg.check_probes)
    probes = [probes[int(i * stride)] for i in range(min(len(probes), cfg.check_probes))]
    path = config_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    family = scoring.family_of(rec.model.id, rec.model.model_type)
    data = {
        "probes": [p.messages for p in probes],
        "new": new,
        "old": scoring.old_markers(new, family),
        "threshold": cfg.identity_threshold,
        "check_every": cfg.check_every,
        "stop_after_checks": cfg.stop_after_checks,
        "max_new_tokens": cfg.max_new_tokens,
        "batch": PLUGIN_BATCH,
        "log": log_path(run_dir).name,
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def complete_old_settings(path: Path) -> None:
    """Settings an older swiftkit wrote leave out what its plugin then defaulted: added here
    (the same values: the schema's defaults), so that a run started then can resume."""
    cfg = jsonl.json_object(path)
    default = VerifySpec(base_dir=path.parent)
    then = {k: getattr(default, k) for k in ("check_every", "stop_after_checks", "max_new_tokens")}
    then["batch"] = PLUGIN_BATCH
    if cfg is not None and not then.keys() <= cfg.keys():
        text = json.dumps({**then, **cfg}, ensure_ascii=False, indent=2) + "\n"
        with writing(path):
            path.write_text(text, encoding="utf-8")


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
        return self.verified if self.stopped is None else self.stopped

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> StopCheck:
        return cls(**known(cls, row))


def stop_checks(run_dir: Path | None) -> list[StopCheck]:
    """The plugin's checks during training (verify/stop_checks.jsonl), oldest first."""
    rows = jsonl.values(log_path(run_dir)) if run_dir else []
    return [StopCheck.from_dict(v) for v in rows if isinstance(v, dict)]
