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
    """The plugin's settings, all of them (it keeps no defaults): at most check_probes identity
    probes, spread over the set; answers as long as verify's, so a check judges them as verify
    will. The log is named relative to this file: `render` hashes the settings."""
    cfg, new = rec.verify, rec.identity.new
    found = gather(cfg, run_dir, CheckpointArgs(), *rec.identity.who)
    probes = [p for p in found if p.set == "identity"]
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
    data = {
        "probes": [p.messages for p in probes],
        "need": [p.need for p in probes],
        "new": new,
        "old": scoring.old_markers(new, scoring.family_of(rec.model.id, rec.model.model_type)),
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
    """Add the defaults an older swiftkit's settings left out, so its runs can resume."""
    cfg = jsonl.json_object(path)
    default = VerifySpec(base_dir=path.parent)
    then = {k: getattr(default, k) for k in ("check_every", "stop_after_checks", "max_new_tokens")}
    then["batch"] = PLUGIN_BATCH
    then["need"] = [[] for _ in (cfg or {}).get("probes", [])]  # before `asks`: either
    if cfg is not None and not then.keys() <= cfg.keys():
        text = json.dumps({**then, **cfg}, ensure_ascii=False, indent=2) + "\n"
        with writing(path):
            path.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class StopCheck:
    """One check the plugin made (answers left out). `streak` and `stopped` are None in logs
    from before the streak guard, when the first verified check stopped training (`stops`).
    `loss`: the last logged before the check."""

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
