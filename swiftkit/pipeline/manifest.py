"""manifest.json: what a run folder says about itself, as a typed `Manifest`. A file without
"schema_version" is version 1 and reads the same (only the version was added); unknown keys
are kept and written back, so an update never loses them."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from swiftkit import jsonl
from swiftkit.errors import FULL, SwiftkitError, errors_only, write_failed
from swiftkit.recipe.model import FlagValue, Identity, VerifySpec, known

if TYPE_CHECKING:
    from typing_extensions import Unpack

MANIFEST = "manifest.json"
SCHEMA_VERSION = 2


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class Word(str, Enum):
    """A word the manifest stores as its plain string."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def parse(cls, value: object) -> Any:
        return next((m for m in cls if m.value == value), None)


class Status(Word):
    """What the manifest says, and `died` when the run's process is gone."""

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    DIED = "died"
    UNKNOWN = "unknown"


class Verdict(Word):
    """A verify report's verdict, and a probe set's ("not gating": no threshold, no max_drop)."""

    PASS = "pass"
    FAIL = "fail"
    NONE = "no verdict"
    NOT_GATING = "not gating"


@dataclass(frozen=True)
class VerdictSummary:
    """What the manifest keeps of a verify report, or of one that could not run (`error`)."""

    verdict: Verdict
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
        values = known(cls, data)
        values["verdict"] = Verdict.parse(data.get("verdict")) or Verdict.NONE
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return _set(self)


def _set(record: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(record).items() if v is not None}


@dataclass(frozen=True)
class Resumed:
    """One `swiftkit run --resume`: when, and the exact command."""

    started: str | None = None
    argv: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ResolvedRecipe:
    """The recipe the run started with: `raw` JSON (written back unchanged) and typed values."""

    raw: dict[str, Any] = field(default_factory=dict)
    identity: Identity = field(default_factory=Identity)
    trust_remote_code: bool = False
    train: dict[str, FlagValue] = field(default_factory=dict)
    verify: object = None  # the [verify] section as written: checked when it is used

    @classmethod
    def from_dict(cls, data: object) -> ResolvedRecipe:
        if not isinstance(data, dict):
            return cls()

        def section(name: str) -> dict[str, Any]:
            value = data.get(name)
            return value if isinstance(value, dict) else {}

        return cls(
            raw=data,
            identity=Identity(**known(Identity, section("identity"))),
            trust_remote_code=section("model").get("trust_remote_code") is True,
            train=section("train"),
            verify=data.get("verify"),
        )

    def __bool__(self) -> bool:
        return bool(self.raw)


@dataclass(frozen=True)
class DatasetRecord:
    """Per dataset: a local file and its filled copy with their sha256, or a hub id."""

    source: str | None = None
    source_sha256: str | None = None
    rendered: str | None = None
    rendered_sha256: str | None = None
    hub: str | None = None
    sample: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"hub": self.hub, "sample": self.sample} if self.source is None else _set(self)


@dataclass(frozen=True)
class Manifest:
    status: Status | None = None
    recipe: str | None = None  # the recipe file (absolute)
    recipe_resolved: ResolvedRecipe = field(default_factory=ResolvedRecipe)
    preset: str | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    shell: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    datasets: dict[str, DatasetRecord] = field(default_factory=dict)
    started: str | None = None
    finished: str | None = None
    pid: int | None = None
    pid_start: int | None = None  # the process's start time: a reused pid is not the run
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
        values["status"] = Status.parse(data.get("status"))
        values["recipe_resolved"] = ResolvedRecipe.from_dict(data.get("recipe_resolved"))
        found = data.get("datasets")
        values["datasets"] = {
            str(k): DatasetRecord(**known(DatasetRecord, v))
            for k, v in (found.items() if isinstance(found, dict) else ())
            if isinstance(v, dict)
        }
        values["verify"] = VerdictSummary.from_dict(data.get("verify"))
        values["resumed"] = [
            Resumed(**known(Resumed, r)) for r in data.get("resumed") or [] if isinstance(r, dict)
        ]
        values["schema_version"] = data.get("schema_version", 1)  # none before version 2
        ours = {f.name for f in fields(cls)}
        values["extra"] = {k: v for k, v in data.items() if k not in ours}
        if values["status"] is None and "status" in data:  # a word of another version: kept
            values["extra"]["status"] = data["status"]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON: unset values are left out, as version 1 did."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for key, value in vars(self).items():
            if key not in ("schema_version", "extra") and value is not None:
                out[key] = _TO_JSON[key](value) if key in _TO_JSON else value
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}

    @classmethod
    def read(cls, run_dir: Path) -> Manifest:
        data = jsonl.json_object(run_dir / MANIFEST)  # missing or unreadable: an empty one
        return cls() if data is None else cls.from_dict(data)

    def write(self, run_dir: Path) -> None:
        """Atomically: a temporary file, fsynced, renamed over manifest.json (a crash leaves
        the old or the new, never half). On a full disk, over the old in place if it fits."""
        target = run_dir / MANIFEST
        data = self.to_dict()
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            replace_atomically(target, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        except OSError as exc:
            if exc.errno in FULL and _overwrite(target, data):
                return
            raise write_failed(target, exc) from None

    @property
    def identity(self) -> Identity:
        return self.recipe_resolved.identity

    def verify_spec(self, run_dir: Path | None) -> VerifySpec:
        """The run's [verify], schema-checked; probe paths relative to the recipe's folder."""
        from swiftkit.recipe.parse import section_findings

        section = self.recipe_resolved.verify
        if section:
            source = str(run_dir / MANIFEST) if run_dir else "manifest"
            errors = errors_only(section_findings("verify", section, source))
            if errors:
                raise SwiftkitError(f"the run's [verify] settings are invalid: {source}", errors)
        base = (Path(self.recipe).parent if self.recipe else None) or run_dir or Path.cwd()
        return VerifySpec.from_dict(section if isinstance(section, dict) else None, base)


_TO_JSON: dict[str, Any] = {
    "verify": VerdictSummary.to_dict,
    "recipe_resolved": lambda r: r.raw,
    "datasets": lambda d: {k: v.to_dict() for k, v in d.items()},
    "resumed": lambda rs: [asdict(r) for r in rs],
}


def replace_atomically(target: Path, text: str) -> None:
    """A temporary file in the same folder, fsynced, renamed over target; removed on failure."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _overwrite(target: Path, data: dict[str, Any]) -> bool:
    """On a full disk: compact JSON padded to the old length over the old bytes, so no block
    is allocated. Only when it fits; a crash could tear it, hence a fallback, not the way."""
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


class Changes(TypedDict, total=False):
    status: Status
    resumed: list[Resumed]
    pid: int | None
    pid_start: int | None
    host: str | None
    finished: str
    returncode: int
    seconds: float
    steps: int | None
    max_steps: int | None
    last_loss: float | None
    checkpoint: str
    verify: VerdictSummary
    argv: list[str]


def update(run_dir: Path, **changes: Unpack[Changes]) -> Manifest:
    manifest = replace(Manifest.read(run_dir), **changes)
    manifest.write(run_dir)
    return manifest
