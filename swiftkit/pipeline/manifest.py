"""manifest.json: what a run folder says about itself, as a typed `Manifest`.

Version 2 files carry "schema_version": 2; a file without it is version 1 (what swiftkit wrote
before) and reads the same way: the keys did not change, only the version was added. Keys this
version does not know are kept and written back, so an update never loses them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from swiftkit.errors import FULL, SwiftkitError, errors_only, write_failed
from swiftkit.recipe.model import Identity, VerifySpec, known

MANIFEST = "manifest.json"
SCHEMA_VERSION = 2


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class VerdictSummary:
    """What the manifest keeps of a verify report (`swiftkit runs` shows `verdict`), or of a
    verify that could not run (`error`)."""

    verdict: str  # "pass", "fail" or "no verdict"
    error: str | None = None
    identity: float | None = None
    identity_base: float | None = None
    identity_threshold: float | None = None
    identity_probes: int | None = None
    general: float | None = None
    general_base: float | None = None
    general_probes: int | None = None
    checkpoint: str | None = None
    report: str | None = None
    measured: str | None = None

    @classmethod
    def from_dict(cls, data: object) -> VerdictSummary | None:
        if not isinstance(data, dict):
            return None
        return cls(**{"verdict": "no verdict", **known(cls, data)})

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Resumed:
    """One `swiftkit run --resume` of the run: when, and the exact command."""

    started: str | None = None
    argv: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Manifest:
    status: str | None = None  # running, finished, interrupted, failed
    recipe: str | None = None  # the recipe file (absolute)
    recipe_resolved: dict[str, Any] = field(default_factory=dict)  # Recipe.to_dict()
    preset: str | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    shell: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha256 per dataset
    started: str | None = None
    finished: str | None = None
    pid: int | None = None
    pid_start: float | None = None  # the process's start time: a reused pid is not the run
    host: str | None = None  # where pid lives
    returncode: int | None = None
    seconds: float | None = None
    steps: int | None = None
    max_steps: int | None = None
    last_loss: float | None = None
    checkpoint: str | None = None
    verify: VerdictSummary | None = None
    resumed: list[Resumed] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other versions, kept

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        values = known(cls, data)
        values["verify"] = VerdictSummary.from_dict(data.get("verify"))
        values["resumed"] = [Resumed(**known(Resumed, r)) for r in data.get("resumed") or []]
        values["schema_version"] = data.get("schema_version", 1)  # none before version 2
        values["extra"] = {k: v for k, v in data.items() if k not in {f.name for f in fields(cls)}}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON: unset values are left out, as version 1 did."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("schema_version", "extra") or value is None:
                continue
            if f.name == "verify":
                value = value.to_dict()
            elif f.name == "resumed":
                value = [asdict(r) for r in value]
            out[f.name] = value
        return {**out, **self.extra}

    @classmethod
    def read(cls, run_dir: Path) -> Manifest:
        """The run folder's manifest; an empty one when it is missing or unreadable."""
        try:
            data = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls.from_dict(data) if isinstance(data, dict) else cls()

    def write(self, run_dir: Path) -> None:
        """Write atomically: a temporary file in the same folder (a unique name, so two
        writers never share one), flushed to disk, then renamed over manifest.json; a crash
        leaves the old manifest or the new one, never half of one. On a full disk the
        temporary file is removed (no 0-byte .tmp left) and the new content is written over
        the old one in place when it fits there (see `_overwrite`); otherwise a clear error."""
        target = run_dir / MANIFEST
        data = self.to_dict()
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        tmp: str | None = None
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", suffix=".tmp", dir=run_dir)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
            if exc.errno in FULL and _overwrite(target, data):
                return
            raise write_failed(target, exc) from None

    @property
    def recipe_dir(self) -> Path | None:
        """The recipe's folder: [verify] probe paths are relative to it."""
        return Path(self.recipe).parent if self.recipe else None

    @property
    def identity(self) -> Identity:
        """The recipe's [identity] as the run was started with it."""
        ident = self.recipe_resolved.get("identity")
        return Identity(**known(Identity, ident)) if isinstance(ident, dict) else Identity()

    def verify_spec(self, run_dir: Path | None) -> VerifySpec:
        """The recipe's [verify] as the run was started with it, checked against the schema
        (a manifest is a file like any other); probe paths relative to the recipe's folder."""
        from swiftkit.recipe.parse import section_findings

        section = self.recipe_resolved.get("verify")
        if section:
            source = str(run_dir / MANIFEST) if run_dir else "manifest"
            errors = errors_only(section_findings("verify", section, source))
            if errors:
                raise SwiftkitError(f"the run's [verify] settings are invalid: {source}", errors)
        base = self.recipe_dir or run_dir or Path.cwd()
        return VerifySpec.from_dict(section if isinstance(section, dict) else None, base)


def _overwrite(target: Path, data: dict[str, Any]) -> bool:
    """On a full disk, the new manifest written over the old one's bytes: compact JSON padded
    with spaces to the old length, so no block is freed or allocated (a new file, or a
    truncate-and-rewrite, needs space the disk lacks). Only when it fits; a crash in the
    middle could leave a torn file, which is why this is the fallback and not the way."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    try:
        size = target.stat().st_size
        if len(body) + 1 > size:
            return False
        with target.open("r+b") as fh:
            fh.write(body + b" " * (size - len(body) - 1) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        return False
    return True


def update(run_dir: Path, **changes: Any) -> Manifest:
    """Read, change some fields, write back atomically."""
    manifest = replace(Manifest.read(run_dir), **changes)
    manifest.write(run_dir)
    return manifest
