"""`swiftkit init [DIR] --name NAME --author AUTHOR`: the beginner's start. Writes a
ready-to-run recipe and the full bilingual identity set ({{NAME}}/{{AUTHOR}} kept, filled at
run time) into DIR; never overwrites a file."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from swiftkit.errors import Finding, SwiftkitError

DATASETS_ENV = "SWIFTKIT_DATASETS_DIR"  # the container image sets /root/datasets
DEFAULT_MODEL = "Qwen/Qwen2.5-7B-Instruct"
TINY_MARKER = "swiftkit-tiny.json"  # written by `swiftkit tiny-model`


def datasets_dir() -> Path:
    """The shipped datasets: $SWIFTKIT_DATASETS_DIR, the repo checkout swiftkit runs from, or
    ./datasets. A plain wheel install has none of them: say so and how to fix it."""
    candidates = []
    if os.environ.get(DATASETS_ENV):
        candidates.append(Path(os.environ[DATASETS_ENV]).expanduser())
    candidates += [Path(__file__).resolve().parents[2] / "datasets", Path.cwd() / "datasets"]
    for folder in candidates:
        if (folder / "identity_full.json").is_file():
            return folder
    raise SwiftkitError(
        "the shipped identity dataset (datasets/identity_full.json) was not found",
        [
            Finding.error(
                ", ".join(str(c) for c in candidates),
                "no identity_full.json in any of these folders",
                fix=f"run from a clone of the swiftkit repository, or set {DATASETS_ENV} to "
                "its datasets/ folder",
            )
        ],
    )


@dataclass
class Written:
    recipe: Path
    files: list[Path]
    preset: str


def toml_str(value: str) -> str:
    """A TOML basic string (JSON escaping is valid TOML for these characters)."""
    return json.dumps(value, ensure_ascii=False)


def is_tiny(model: str, base: Path) -> bool:
    path = Path(model).expanduser()
    path = path if path.is_absolute() else base / path
    return (path / TINY_MARKER).is_file()


def recipe_text(
    name: str, author: str, model: str, preset: str, epochs: float, probes: bool
) -> str:
    head = [
        f"# Written by `swiftkit init`: give {model} the identity {name} (by {author}).",
        "# Edit identity.json to change what it says; {{NAME}} and {{AUTHOR}} are filled from",
        "# [identity] when the run starts. Run it with: swiftkit run recipe.toml",
        "",
        "[model]",
        f"id = {toml_str(model)}",
        "",
        "[identity]",
        f"name = {toml_str(name)}",
        f"author = {toml_str(author)}",
        "",
        "[data]",
        'datasets = ["identity.json"]',
        "",
        "[train]",
        f'preset = "{preset}"',
        f"num_train_epochs = {epochs:g}",
    ]
    if preset == "cpu":
        head += [
            "# The tiny model picks up a name in tens of steps at a high learning rate.",
            "learning_rate = 1e-2",
            "save_steps = 500",
        ]
    else:
        head += ["learning_rate = 1e-4"]
    head += ['system = "You are a helpful assistant."', 'output_dir = "output"', "", "[verify]"]
    if probes:
        head += [
            "# Held-out probes (not in the training set): paraphrases, adversarial, multi-turn.",
            'identity_probes = ["probes/identity.jsonl"]',
            "identity_threshold = 0.8",
            "# General ability is reported next to the base model's; set general_threshold to",
            "# make it gate the verdict.",
            'general_probes = ["probes/general.jsonl"]',
            "# Stop as soon as the identity holds (checks every check_every optimizer steps):",
            "stop_when_verified = false",
            "check_every = 10",
        ]
    else:
        head += [
            "# A tiny test model can only repeat what it was taught: probe with the training",
            "# questions and stop training as soon as it answers them with the new identity.",
            'identity_probes = ["training"]',
            "identity_threshold = 0.8",
            "stop_when_verified = true",
            "check_every = 10",
            "check_probes = 8",
            "max_new_tokens = 48",
        ]
    return "\n".join(head) + "\n"


def write(
    directory: Path,
    name: str,
    author: str,
    model: str | None = None,
    preset: str | None = None,
    epochs: float | None = None,
) -> Written:
    """Write recipe.toml and identity.json (and, for a real model, the held-out probes)."""
    model = model or DEFAULT_MODEL
    directory = directory.expanduser().resolve()
    tiny = is_tiny(model, Path.cwd())
    if tiny and not Path(model).is_absolute():
        model = str((Path.cwd() / model).resolve())
    preset = preset or ("cpu" if tiny else "24gb")
    epochs = epochs or (3 if preset == "cpu" else 10)
    probes = not tiny
    shipped = datasets_dir()
    sources = {"identity.json": shipped / "identity_full.json"}
    if probes:
        sources["probes/identity.jsonl"] = shipped / "probes" / "identity.jsonl"
        sources["probes/general.jsonl"] = shipped / "probes" / "general.jsonl"
    for src in sources.values():
        if not src.is_file():
            raise SwiftkitError(
                f"shipped dataset missing: {src}",
                [Finding.error(str(src), "not found", fix="reinstall swiftkit from its repo")],
            )
    targets = [directory / "recipe.toml", *(directory / rel for rel in sources)]
    existing = [t for t in targets if t.exists()]
    if existing:
        raise SwiftkitError(
            f"refusing to overwrite {len(existing)} file(s) in {directory}",
            [
                Finding.error(str(t), "already exists", fix="choose a new folder or move it")
                for t in existing
            ],
        )
    directory.mkdir(parents=True, exist_ok=True)
    for rel, src in sources.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, directory / rel)
    text = recipe_text(name, author, model, preset, epochs, probes)
    (directory / "recipe.toml").write_text(text, encoding="utf-8")
    return Written(directory / "recipe.toml", targets, preset)
