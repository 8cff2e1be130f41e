"""Recipes: a TOML file, checked against a JSON schema, merged with a hardware preset.

Every error names the recipe file, the line of the offending key and the key path.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from swiftkit.errors import Finding, SwiftkitError, errors_only
from swiftkit.resources import PRESETS, SCHEMAS

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.-]+)?(#\d+)?$")
DATA_SUFFIXES = (".json", ".jsonl", ".csv")
# A preset's torch_dtype that becomes bfloat16 or float16 by the GPUs' compute capability.
AUTO_BY_GPU = "auto-by-gpu"


@cache
def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS.glob("*.toml"))


def load_preset(name: str, source: str = "recipe", line: int | None = None) -> dict:
    path = PRESETS / f"{name}.toml"
    if not path.is_file():
        # case-insensitive: "24GB" is a near miss of "24gb"
        lowered = {n.lower(): n for n in preset_names()}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), lowered, n=1)]
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SwiftkitError(
            f"unknown preset '{name}'",
            [
                Finding.error(
                    source,
                    f"preset '{name}' does not exist",
                    line=line,
                    field="train.preset",
                    fix=f"{hint}known presets: {', '.join(preset_names())} "
                    "(see `swiftkit presets`)",
                )
            ],
        )
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    data["name"] = name
    return data


def presets() -> list[dict]:
    """Every shipped preset, loaded (name, description, device, min_vram_gb, env, train)."""
    return [load_preset(n) for n in preset_names()]


def auto_preset() -> str:
    """The preset `auto` stands for on this machine: no visible GPU -> "cpu"; else the GPU
    preset with the largest `min_vram_gb` that the smallest visible card still has (the
    smallest GPU preset when none fits: the memory check then says what to change)."""
    from swiftkit.machine import hardware

    gpus = hardware.detect().visible
    if not gpus:
        return "cpu"
    memory = min(g.memory_gib for g in gpus)
    gpu_presets = sorted(
        (float(p.get("min_vram_gb", 0)), p["name"]) for p in presets() if p.get("device") == "cuda"
    )
    fitting = [name for need, name in gpu_presets if need <= memory]
    return fitting[-1] if fitting else gpu_presets[0][1]


@dataclass
class DatasetRef:
    """One entry of [data] datasets: a local file (absolute path) or a hub id."""

    spec: str
    path: Path | None = None
    hub_id: str | None = None
    sample: int | None = None

    @property
    def is_local(self) -> bool:
        return self.path is not None


@dataclass
class Recipe:
    path: Path
    raw: dict
    text: str
    model_id: str
    model_path: Path | None
    preset: dict
    train: dict
    datasets: list[DatasetRef]
    identity: dict = field(default_factory=dict)
    val_datasets: list[DatasetRef] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def model(self) -> dict:
        return self.raw["model"]

    @property
    def launch(self) -> dict:
        """The [launch] section: processes per node, nodes, DeepSpeed (may be empty)."""
        return dict(self.raw.get("launch", {}))

    @property
    def world_size(self) -> int:
        """Training processes in total: nproc_per_node x nnodes (1 without [launch])."""
        return int(self.launch.get("nproc_per_node", 1)) * int(self.launch.get("nnodes", 1))

    @property
    def device(self) -> str:
        return str(self.preset.get("device", "cuda"))

    @property
    def output_dir(self) -> Path:
        out = Path(str(self.train.get("output_dir", "output")))
        return out if out.is_absolute() else (self.dir / out).resolve()

    @property
    def system(self) -> str:
        return str(self.train.get("system", "You are a helpful assistant."))

    def line_of(self, *keys: str) -> int | None:
        return locate(self.text, list(keys))


def locate(text: str, path: list) -> int | None:
    """The 1-based line of a key path such as ['train', 'learning_rate'] in TOML text."""
    if not path:
        return None
    lines = text.splitlines()
    section = str(path[0])
    header = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]\s*(#.*)?$")
    any_header = re.compile(r"^\s*\[")
    start = None
    for i, line in enumerate(lines):
        if header.match(line):
            start = i
            break
    if start is None:
        return None
    if len(path) == 1 or not isinstance(path[1], str):
        return start + 1
    key = re.compile(r"^\s*\"?" + re.escape(str(path[1])) + r"\"?\s*=")
    for j in range(start + 1, len(lines)):
        if any_header.match(lines[j]):
            break
        if key.match(lines[j]):
            return j + 1
    return start + 1


@cache
def _fast_recipe_check():
    from swiftkit.schemas.fastcheck import compile_schema

    return compile_schema(schema("recipe"))


def _schema_findings(data: dict, text: str, source: str) -> list[Finding]:
    fast = _fast_recipe_check()
    if fast is not None and fast(data):
        return []  # valid: jsonschema (and its import) is only needed to explain errors
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema("recipe"))
    findings = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        path = list(err.path)
        keypath = ".".join(map(str, path)) or "(top level)"
        fix = None
        message = err.message
        if err.validator == "additionalProperties":
            known = list(err.schema.get("properties", {}))
            extra = [k for k in err.instance if k not in known]
            for key in extra:
                close = difflib.get_close_matches(key, known, n=1)
                where = f"[{keypath}]" if path else "the top level"
                findings.append(
                    Finding.error(
                        source,
                        f"unknown key '{key}' in {where}",
                        line=locate(text, path + [key]),
                        field=".".join(map(str, path + [key])),
                        fix=(f"did you mean '{close[0]}'? " if close else "")
                        + f"known keys: {', '.join(known)}",
                    )
                )
            continue
        if err.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", err.message)
            fix = (
                f"add {', '.join(missing)} under [{keypath}]"
                if path
                else (f"add a [{missing[0]}] section" if missing else None)
            )
        elif err.validator in ("exclusiveMinimum", "minimum", "maximum"):
            fix = (
                f"{keypath} must be {err.validator} {err.validator_value}".replace(
                    "exclusiveMinimum", ">"
                )
                .replace("minimum", ">=")
                .replace("maximum", "<=")
            )
        elif err.validator == "type":
            fix = f"{keypath} must be of type {err.validator_value}"
        findings.append(
            Finding.error(source, message, line=locate(text, path), field=keypath, fix=fix)
        )
    return findings


def parse_toml(path: Path) -> tuple[dict, str]:
    """Read a TOML file, turning syntax errors into a finding with line and column."""
    source = str(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise SwiftkitError(
            f"recipe not found: {source}",
            [Finding.error(source, "no such file", fix="check the path; `ls recipes/`")],
        ) from None
    except OSError as exc:
        raise SwiftkitError(f"cannot read {source}: {exc.strerror}") from None
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SwiftkitError(
            f"{source} is not UTF-8",
            [Finding.error(source, f"byte {exc.start} is not UTF-8", fix="save as UTF-8")],
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        raise SwiftkitError(
            f"{source} is not valid TOML",
            [
                Finding.error(
                    source,
                    f"TOML syntax: {msg}",
                    line=line,
                    fix="strings need quotes, sections look like [train], keys like name = value",
                )
            ],
        ) from None
    return data, text


def _launch_findings(launch: dict, preset: dict, text: str, source: str) -> list[Finding]:
    """Rules between [launch] keys that the schema cannot say (ranges are in the schema)."""
    out = []
    nnodes = int(launch.get("nnodes", 1))
    if "node_rank" in launch and launch["node_rank"] >= nnodes:
        out.append(
            Finding.error(
                source,
                f"node_rank {launch['node_rank']} is out of range for nnodes = {nnodes}",
                line=locate(text, ["launch", "node_rank"]),
                field="launch.node_rank",
                fix=f"node ranks run from 0 to {nnodes - 1}: 0 on the master node, "
                "1, 2, ... on the others",
            )
        )
    if nnodes > 1 and not launch.get("master_addr"):
        out.append(
            Finding.error(
                source,
                f"nnodes = {nnodes} needs the master node's address",
                line=locate(text, ["launch", "nnodes"]),
                field="launch.master_addr",
                fix='add master_addr = "10.0.0.1" (the IP of the node_rank 0 machine, '
                "reachable from every node) and the same master_port on every node",
            )
        )
    if launch.get("deepspeed") and preset.get("device") != "cuda":
        out.append(
            Finding.error(
                source,
                f'deepspeed = "{launch["deepspeed"]}" needs GPUs; preset '
                f"'{preset.get('name')}' runs on the {preset.get('device')}",
                line=locate(text, ["launch", "deepspeed"]),
                field="launch.deepspeed",
                fix="remove deepspeed for a CPU run (torchrun with gloo needs nothing more), "
                "or choose a GPU preset",
            )
        )
    return out


def resolve_dataset(spec: str, base: Path) -> DatasetRef:
    """A local file (relative to the recipe) when it exists or looks like one, else a hub id."""
    head, _, count = spec.partition("#")
    candidate = Path(head).expanduser()
    candidate = candidate if candidate.is_absolute() else base / candidate
    if candidate.exists() or head.endswith(DATA_SUFFIXES) or head.startswith((".", "/", "~")):
        return DatasetRef(
            spec, path=candidate.resolve(), sample=int(count) if count.isdigit() else None
        )
    if HUB_ID.match(spec):
        return DatasetRef(spec, hub_id=head, sample=int(count) if count.isdigit() else None)
    return DatasetRef(spec, path=candidate.resolve())


def check(path: Path) -> tuple[Recipe | None, list[Finding]]:
    """Load and check a recipe; return it (None when unusable) and every finding."""
    path = Path(path)
    data, text = parse_toml(path)
    source = str(path)
    findings = _schema_findings(data, text, source)
    if errors_only(findings):
        return None, findings

    base = path.resolve().parent
    train = dict(data.get("train", {}))
    preset_name = str(train.pop("preset", "auto"))
    if preset_name == "auto":
        preset_name = auto_preset()
    try:
        preset = load_preset(preset_name, source, locate(text, ["train", "preset"]))
    except SwiftkitError as exc:
        return None, findings + exc.findings
    merged = dict(preset.get("train", {}))
    merged.update(train)
    if merged.get("torch_dtype") == AUTO_BY_GPU:
        from swiftkit.machine import hardware

        merged["torch_dtype"] = hardware.dtype_for(hardware.detect().visible)
    findings += _launch_findings(data.get("launch", {}), preset, text, source)

    model_id = data["model"]["id"]
    local = Path(model_id).expanduser()
    local = local if local.is_absolute() else base / local
    is_local = (
        local.exists()
        or data["model"].get("build") == "tiny"
        or model_id.startswith((".", "/", "~"))
        or not HUB_ID.match(model_id)
    )
    model_path = local.resolve() if is_local else None
    if model_path is None:
        baked, finding = baked_model(model_id, text, source)
        if finding:
            findings.append(finding)
        model_path = baked

    refs = {
        key: [resolve_dataset(spec, base) for spec in data["data"].get(key, [])]
        for key in ("datasets", "val_datasets")
    }
    for key, what in (("datasets", "dataset"), ("val_datasets", "validation dataset")):
        for i, ref in enumerate(refs[key]):
            if ref.is_local and not ref.path.is_file():
                findings.append(
                    Finding.error(
                        source,
                        f"{what} file not found: {ref.path}",
                        line=locate(text, ["data", key]),
                        field=f"data.{key}[{i}]",
                        fix="paths are relative to the recipe file; check the name",
                    )
                )
    findings += train_flag_findings(train, text, source)
    if model_path is not None:
        findings += model_folder_findings(
            model_path, data["model"], text, source, building=data["model"].get("build") == "tiny"
        )
    output = Path(str(merged.get("output_dir", "output"))).expanduser()
    output = output if output.is_absolute() else (base / output)
    findings += output_findings(output, text, source)
    recipe = Recipe(
        path=path.resolve(),
        raw=data,
        text=text,
        model_id=model_id,
        model_path=model_path,
        preset=preset,
        train=merged,
        datasets=refs["datasets"],
        val_datasets=refs["val_datasets"],
        identity=dict(data.get("identity", {})),
    )
    return recipe, findings


def train_flag_findings(train: dict, text: str, source: str) -> list[Finding]:
    """Every [train] key must be a `swift sft` flag of the installed ms-swift (or a renamed one).

    ms-swift stops at start-up on an unknown flag (`remaining_argv: [...]`), after the model
    loads on some versions; here it costs a set lookup.
    """
    from swiftkit.render import compat, sftflags

    known, origin = sftflags.known_flags()
    version = compat.target_version()
    renames = {row["old"]: row for row in compat.table()["flag_renames"]}
    renames.update({row["new"]: row for row in compat.table()["flag_renames"]})
    findings = []
    for key in train:
        if key in known or key == "preset":
            continue
        line = locate(text, ["train", key])
        if key in renames:
            new = compat.flag_name(key, version)
            if new != key:
                findings.append(
                    Finding.warning(
                        source,
                        f"'{key}' is spelled '--{new}' by ms-swift {version}; swiftkit renders "
                        f"'--{new}'",
                        line=line,
                        field=f"train.{key}",
                        fix=f"write {new} = ... to match `swift sft --help`",
                    )
                )
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        findings.append(
            Finding.error(
                source,
                f"'{key}' is not a `swift sft` flag (checked against {origin})",
                line=line,
                field=f"train.{key}",
                fix=(f"did you mean '{close[0]}'? " if close else "")
                + "keys under [train] are `swift sft --help` flag names without the dashes",
            )
        )
    return findings


WEIGHTS = (
    "*.safetensors",
    "*.bin",
    "*.safetensors.index.json",
    "*.bin.index.json",
    "*.pt",
    "*.pth",
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "*.tiktoken")


MODELS_DIR_ENV = "SWIFTKIT_MODELS_DIR"


def baked_model(model_id: str, text: str, source: str) -> tuple[Path | None, Finding | None]:
    """A hub id's folder under $SWIFTKIT_MODELS_DIR (the container image sets /root), so a
    model baked into the image is used instead of a download; set but missing is an error
    that says how to provide the model."""
    models_dir = os.environ.get(MODELS_DIR_ENV, "").strip()
    if not models_dir:
        return None, None
    name = model_id.split(":")[0].rstrip("/").split("/")[-1]
    folder = Path(models_dir).expanduser() / name
    if (folder / "config.json").is_file():
        return folder.resolve(), None
    return None, Finding.error(
        source,
        f"model '{model_id}' is not in {folder} (${MODELS_DIR_ENV}={models_dir}: models are "
        "expected there, not downloaded)",
        line=locate(text, ["model", "id"]),
        field="model.id",
        fix=f"mount it (docker run -v /path/to/{name}:{folder} ...), or build the image with "
        f"--build-arg MODEL_ID={model_id} (add --build-arg USE_HF=1 for the Hugging Face hub), "
        f"or allow a download at run time with -e {MODELS_DIR_ENV}=",
    )


def model_folder_findings(
    folder: Path, model: dict, text: str, source: str, building: bool = False
) -> list[Finding]:
    """A local model folder holds config.json, weights and a tokenizer, and ships no code
    unless the recipe trusts it."""
    line = locate(text, ["model", "id"])

    def err(message: str, fix: str, fld: str = "model.id", at: int | None = line) -> Finding:
        return Finding.error(source, message, line=at, field=fld, fix=fix)

    if not folder.exists():
        if building:
            return []
        return [
            err(
                f"model folder not found: {folder}",
                "use a hub id such as Qwen/Qwen2.5-7B-Instruct, or download the model and "
                "give its folder (relative to the recipe or absolute)",
            )
        ]
    if not folder.is_dir():
        return [err(f"model path is not a folder: {folder}", "give the model's folder")]
    findings = []
    config = folder / "config.json"
    cfg: dict = {}
    if not config.is_file():
        findings.append(
            err(
                f"no config.json in the model folder {folder}",
                "point [model] id at the folder that holds config.json (a complete download)",
            )
        )
    else:
        try:
            loaded = json.loads(config.read_text(encoding="utf-8"))
            cfg = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError) as exc:
            findings.append(err(f"{config} is not readable JSON: {exc}", "re-download the model"))
    if not any(any(folder.glob(p)) for p in WEIGHTS):
        findings.append(
            err(
                f"no weights in the model folder {folder} (*.safetensors, *.bin or an index)",
                "the download is incomplete; fetch the weight files (git lfs pull, or "
                "`modelscope download`)",
            )
        )
    if not any(any(folder.glob(p)) for p in TOKENIZER_FILES):
        findings.append(
            err(
                f"no tokenizer in the model folder {folder} (tokenizer.json, tokenizer.model "
                "or vocab.json)",
                "copy the tokenizer files from the base model into the folder",
            )
        )
    code = sorted(p.name for p in folder.glob("*.py"))
    auto_map = "auto_map" in cfg
    if (code or auto_map) and model.get("trust_remote_code") is not True:
        what = ", ".join(filter(None, ["'auto_map' in config.json" if auto_map else "", *code]))
        findings.append(
            err(
                f"the model folder ships code ({what}); ms-swift loads every model with "
                "trust_remote_code=True, so training would run that code with your permissions",
                "read the code first; if you trust it, set trust_remote_code = true under "
                "[model]; otherwise use a model folder without code",
                fld="model.trust_remote_code",
            )
        )
    return findings


def output_findings(output: Path, text: str, source: str) -> list[Finding]:
    """The output folder exists and is writable, or could be created; nothing is created."""
    line = locate(text, ["train", "output_dir"])
    probe = output
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    problem = None
    if not probe.is_dir():
        problem = f"{probe} exists and is not a folder"
    elif not os.access(probe, os.W_OK | os.X_OK):
        problem = f"{probe} is not writable by this user"
    if problem is None:
        return []
    return [
        Finding.error(
            source,
            f"output folder {output} cannot be written: {problem}",
            line=line,
            field="train.output_dir",
            fix="set output_dir under [train] to a folder you can write",
        )
    ]


def load(path: Path) -> Recipe:
    """Load a recipe or raise SwiftkitError with every error found."""
    recipe, findings = check(path)
    errors = errors_only(findings)
    if errors or recipe is None:
        raise SwiftkitError(f"recipe {path} has {len(errors) or 1} error(s)", errors)
    return recipe
