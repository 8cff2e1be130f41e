"""A recipe as typed sections. Built only by the loader (recipe/__init__.py) from a TOML file the
schema has accepted, or from a run's manifest (`Recipe`'s sections round-trip `to_dict`).

Ranges live in the JSON schema (schemas/recipe.schema.json); defaults live here, once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from swiftkit import jsonl
from swiftkit.errors import Finding
from swiftkit.msswift import sftflags
from swiftkit.resources import schema

Scalar = str | int | float | bool
FlagValue = Scalar | list[Scalar]
Device = Literal["cuda", "cpu"]
TRAINING = "training"  # an identity probe source: the run's own identity questions
DEFAULT_SYSTEM = "You are a helpful assistant."


@dataclass(frozen=True)
class Preset:
    """A shipped hardware preset (swiftkit/presets/NAME.toml)."""

    name: str
    description: str
    device: Device
    min_vram_gb: float | None
    env: dict[str, str]
    train: dict[str, FlagValue]


# A real model swiftkit builds without a hub (swiftkit/smollm2.py), into its cache folder,
# and the model_type of its config.json
REAL_BUILDS = {"smollm2-135m-instruct": "llama"}


@dataclass(frozen=True)
class ModelSpec:
    """[model]: a hub id, or a local folder (`path`, absolute)."""

    id: str
    path: Path | None = None
    model_type: str | None = None
    template: str | None = None
    # build the model at `path` when missing: a shape of swiftkit/tinymodel.py's SHAPES
    # ("tiny", ...; random weights), or a REAL_BUILDS model (the schema names them all)
    build: str | None = None
    trust_remote_code: bool = False

    @property
    def builds(self) -> bool:
        return self.build is not None

    def _family(self) -> dict[str, str]:
        """ms-swift's family row for the id, else for config.json's model_type (qwen2 for the
        model still to be built)."""
        from swiftkit.msswift import compat

        cfg = self.path / "config.json" if self.path is not None else None
        if cfg is not None and not cfg.is_file():
            config_type = REAL_BUILDS.get(self.build or "", "qwen2") if self.builds else None
        else:
            value = (jsonl.json_object(cfg) or {}).get("model_type") if cfg else None
            config_type = value if isinstance(value, str) else None
        return compat.model_family(self.id, config_type) or {}

    def type_and_template(self) -> tuple[str, str] | None:
        """--model_type and --template: [model]'s own, else from the id or config.json."""
        family = self._family()
        model_type = self.model_type or family.get("model_type")
        template = self.template or family.get("template")
        return (model_type, template) if model_type and template else None

    def family_why(self) -> str:
        return self._family().get("why", "its name and config.json do not identify the family")


@dataclass(frozen=True)
class Identity:
    """[identity]: fills {{NAME}} and {{AUTHOR}}, and is what verify looks for."""

    name: str | None = None
    author: str | None = None

    @property
    def new(self) -> list[str]:
        """The strings an answer with the new identity names: the name, then the author."""
        return [v for v in (self.name, self.author) if v]

    @property
    def who(self) -> tuple[list[str], list[str]]:
        """The names, and the authors, an answer may assert (scoring.needs)."""
        return [v for v in [self.name] if v], [v for v in [self.author] if v]

    def fills(self) -> dict[str, str]:
        """{"name": ..., "author": ...} for the values that are set."""
        return {k: v for k, v in (("name", self.name), ("author", self.author)) if v}


@dataclass(frozen=True)
class DatasetRef:
    """One entry of [data] datasets: a local file (absolute path) or a hub id, with an
    optional #N sample count."""

    spec: str
    path: Path | None = None
    hub_id: str | None = None
    sample: int | None = None

    @property
    def is_local(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class DataSpec:
    datasets: tuple[DatasetRef, ...]
    val_datasets: tuple[DatasetRef, ...] = ()


@dataclass(frozen=True)
class TrainSpec:
    """[train]: `swift sft` flags by name over the preset's. `preset` is None while the recipe
    says "auto" and no machine has been consulted yet (see `machine.fit.bind`)."""

    preset_name: str
    preset: Preset | None
    own: dict[str, FlagValue]  # what the recipe itself sets (without `preset`)
    base_dir: Path  # the recipe's folder: output_dir is relative to it

    @property
    def flags(self) -> dict[str, FlagValue]:
        """The preset's flags overridden by the recipe's: what ms-swift is given."""
        return {**(self.preset.train if self.preset else {}), **self.own}

    def value(self, key: str) -> FlagValue | None:
        """A flag as ms-swift will see it: the recipe's, the preset's, else ms-swift's default."""
        return self.flags.get(key, sftflags.default(key))

    def int_value(self, key: str, default: int = 0) -> int:
        v = self.value(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else default

    def set_by_recipe(self, key: str) -> bool:
        return key in self.own

    @property
    def device(self) -> Device:
        return self.preset.device if self.preset else "cuda"

    @property
    def output_dir(self) -> Path:
        out = Path(str(self.flags.get("output_dir", "output"))).expanduser()
        return out if out.is_absolute() else (self.base_dir / out).resolve()

    @property
    def system(self) -> str:
        return str(self.flags.get("system", DEFAULT_SYSTEM))

    @property
    def max_length(self) -> int | None:
        return self.int_value("max_length") or None


# [launch] keys -> the environment ms-swift's `swift` entry point hands to torchrun.
LAUNCH_ENV = {
    "nproc_per_node": "NPROC_PER_NODE",
    "nnodes": "NNODES",
    "node_rank": "NODE_RANK",
    "master_addr": "MASTER_ADDR",
    "master_port": "MASTER_PORT",
}


@dataclass(frozen=True)
class LaunchSpec:
    """[launch]: processes per node, nodes, DeepSpeed. Unset keys are None."""

    nproc_per_node: int | None = None
    nnodes: int | None = None
    node_rank: int | None = None
    master_addr: str | None = None
    master_port: int | None = None
    deepspeed: str | None = None

    def env(self) -> dict[str, str]:
        """torchrun's variables for the keys the recipe sets."""
        return {
            var: str(getattr(self, key))
            for key, var in LAUNCH_ENV.items()
            if getattr(self, key) is not None
        }

    def _as_child_sees(self, key: str, environ: Mapping[str, str] | None) -> int:
        """torchrun's variable in swiftkit's environment wins over the recipe (the child
        inherits it; see pipeline/launch.py), else [launch], else 1."""
        text = (os.environ if environ is None else environ).get(LAUNCH_ENV[key], "").strip()
        return int(text) if text.isdigit() and int(text) > 0 else getattr(self, key) or 1

    def processes_per_node(self, environ: Mapping[str, str] | None = None) -> int:
        return self._as_child_sees("nproc_per_node", environ)

    def world_size(self, environ: Mapping[str, str] | None = None) -> int:
        """Training processes in total, exactly as the child will run them. Every user of the
        number (the records-per-step check, the GPU count, the memory estimate) calls this."""
        return self.processes_per_node(environ) * self._as_child_sees("nnodes", environ)


def known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The items of `data` whose keys are fields of the dataclass `cls` (files written by
    other versions may hold more)."""
    return {f.name: data[f.name] for f in fields(cls) if f.name in data}


def _default(key: str) -> Any:
    """A [verify] default, stated once: as "default" in schemas/recipe.schema.json."""
    value = schema("recipe")["properties"]["verify"]["properties"][key]["default"]
    return tuple(value) if isinstance(value, list) else value


LATER_SETTINGS = ("stop_after_checks", "languages")


@dataclass(frozen=True)
class VerifySpec:
    """[verify]: what proves the identity after training (and, optionally, during it).
    Probe file paths are relative to `base_dir` (the recipe's folder)."""

    base_dir: Path = field(default_factory=Path.cwd, compare=False)
    enabled: bool = _default("enabled")
    identity_probes: tuple[str, ...] = _default("identity_probes")
    general_probes: tuple[str, ...] = _default("general_probes")
    questions: tuple[str, ...] = ()
    identity_threshold: float = _default("identity_threshold")
    general_threshold: float | None = None  # unset: general ability is reported, not gating
    general_max_drop: float | None = None  # unset: the adapter may fall below the base freely
    general_max_leak: float | None = None  # unset: general answers may name the new identity
    stop_when_verified: bool = False
    check_every: int = _default("check_every")
    stop_after_checks: int = _default("stop_after_checks")
    check_probes: int = _default("check_probes")
    max_new_tokens: int = _default("max_new_tokens")
    languages: tuple[str, ...] = _default("languages")  # empty: every probe, whatever its lang
    judge: str | None = None  # a second opinion's server (verify/judge.py); unset: rules only
    judge_model: str | None = None

    @classmethod
    def from_dict(cls, section: Mapping[str, Any] | None, base_dir: Path) -> VerifySpec:
        """From a schema-checked [verify] section, or a manifest's copy of one (unknown keys
        of other versions are ignored)."""
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in known(cls, section or {}).items()
        }
        return cls(**{**values, "base_dir": base_dir})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["base_dir"]
        # Settings added after reports and manifests were first written are left out at their
        # default, so an older file written back is unchanged (reading fills the default in).
        # None means "unset" (the schema has no null): left out, as the recipe would.
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in out.items()
            if v is not None and not (k in LATER_SETTINGS and v == _default(k))
        }

    def path(self, spec: str) -> Path:
        p = Path(spec).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def probe_files(self) -> list[tuple[str, Path]]:
        """(set, path) of every probe file named, "training" left out."""
        out = [("identity", self.path(s)) for s in self.identity_probes if s != TRAINING]
        return out + [("general", self.path(s)) for s in self.general_probes]


@dataclass(frozen=True)
class Recipe:
    path: Path  # absolute
    text: str  # the TOML as written, for line numbers
    model: ModelSpec
    identity: Identity
    data: DataSpec
    train: TrainSpec
    launch: LaunchSpec
    verify: VerifySpec

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def output_dir(self) -> Path:
        return self.train.output_dir

    def line_of(self, *keys: str) -> int | None:
        from swiftkit.recipe.parse import locate

        return locate(self.text, list(keys))

    def error_at(self, key: str, message: str, fix: str) -> Finding:
        """An error at a key such as `launch.nproc_per_node` (or `data.datasets[0]`): the key's
        line (its section's when the recipe does not set it), the key as the field."""
        line = self.line_of(*key.split("[")[0].split("."))
        return Finding.error(str(self.path), message, line=line, field=key, fix=fix)

    def with_preset(self, preset: Preset, torch_dtype: str | None = None) -> Recipe:
        """This recipe bound to a concrete preset (and a concrete dtype for auto-by-gpu)."""
        dtype = {} if torch_dtype is None else {"torch_dtype": torch_dtype}
        own: dict[str, FlagValue] = {**self.train.own, **dtype}
        return replace(self, train=replace(self.train, preset=preset, own=own))

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe as JSON (kept in the run's manifest)."""
        model = {k: v for k, v in asdict(self.model).items() if v and k != "path"}
        val = [d.spec for d in self.data.val_datasets]
        data = {"datasets": [d.spec for d in self.data.datasets]} | (
            {"val_datasets": val} if val else {}
        )
        launch = {k: v for k, v in asdict(self.launch).items() if v is not None}
        return {
            "model": model,
            "identity": self.identity.fills(),
            "data": data,
            "train": self.train.flags,
            **({"launch": launch} if launch else {}),
            "verify": self.verify.to_dict(),
        }
