"""`swiftkit init [DIR] --name NAME --author AUTHOR`: the beginner's start. Writes a
ready-to-run recipe and the full bilingual identity set ({{NAME}}/{{AUTHOR}} kept, filled at
run time) into DIR; never overwrites a file."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

import click

from swiftkit import resources
from swiftkit.errors import Finding, SwiftkitError

DATASETS_ENV = "SWIFTKIT_DATASETS_DIR"  # the container image sets /root/datasets
DEFAULT_MODEL = "Qwen/Qwen2.5-7B-Instruct"
TINY_MARKER = "swiftkit-tiny.json"  # written by `swiftkit tiny-model`


def datasets_dir() -> Path:
    """The shipped datasets: $SWIFTKIT_DATASETS_DIR when set, else swiftkit's package data."""
    folder = Path(os.environ.get(DATASETS_ENV) or resources.DATASETS).expanduser()
    if (folder / "identity_full.json").is_file():
        return folder
    raise SwiftkitError.at(
        "the shipped identity dataset (datasets/identity_full.json) was not found",
        str(folder),
        "no identity_full.json in this folder",
        fix=f"set {DATASETS_ENV} to a folder holding the shipped datasets, or unset it; "
        "else reinstall swiftkit (its wheel carries them)",
    )


@dataclass
class Written:
    recipe: Path
    files: list[Path]
    preset: str
    why: str = ""  # why this preset/model, when init chose them
    gpu_hint: str | None = None  # the init line that writes the GPU recipe instead


TINY_DIR = ".models/tiny-qwen2"  # relative to the recipe; `swiftkit run` builds it there
# The shape it builds (swiftkit/tinymodel.py SHAPES): the tests' 2-layer hidden-64 "tiny" model
# cannot tell 79 questions apart with LoRA r8; this one passes the strict identity check.
TINY_SHAPE = "tiny-128x4"


def toml_str(value: str) -> str:
    """A TOML basic string (JSON escaping is valid TOML for these characters)."""
    return json.dumps(value, ensure_ascii=False)


def is_tiny(model: str, base: Path) -> bool:
    path = Path(model).expanduser()
    path = path if path.is_absolute() else base / path
    return (path / TINY_MARKER).is_file()


def template_parts() -> dict[str, str]:
    """data/init_recipe.toml: the recipe (key ""), then the blocks it may hold, each after a
    `## NAME` line."""
    text = (resources.DATA / "init_recipe.toml").read_text(encoding="utf-8")
    recipe, *named = re.split(r"^## (.+)\n", text, flags=re.MULTILINE)
    parts = {"": recipe.rstrip("\n")}
    parts.update({k: v.rstrip("\n") + "\n" for k, v in zip(named[::2], named[1::2], strict=True)})
    return parts


def recipe_text(
    name: str,
    author: str,
    model: str,
    preset: str,
    epochs: float,
    probes: bool,
    build_tiny: bool = False,
) -> str:
    """The recipe init writes: the shipped template, filled with TOML-escaped values."""
    parts = template_parts()
    train = "train " + ("gpu" if preset != "cpu" else "tiny build" if build_tiny else "cpu")
    return Template(parts[""]).substitute(
        what="the tiny test model" if build_tiny else model,
        name_text=name,
        author_text=author,
        model=toml_str(model),
        build=Template(parts["build tiny"]).substitute(shape=TINY_SHAPE) if build_tiny else "",
        name=toml_str(name),
        author=toml_str(author),
        preset=preset,
        epochs=f"{epochs:g}",
        train=parts[train],
        verify=parts["verify probes" if probes else "verify training"],
    )


def has_gpu() -> bool:
    from swiftkit.machine import hardware

    return bool(hardware.detect().visible)


def choose(model: str | None, preset: str | None) -> tuple[str | None, str, str]:
    """(model, or None for the tiny one; preset; why) for what the user gave and this machine:
    no GPU and no choice -> the tiny model on the cpu preset, so the printed `run` works."""
    if model is None and (preset == "cpu" or (preset is None and not has_gpu())):
        why = "no GPU on this machine, so " if preset is None else ""
        return None, "cpu", why + "the tiny test model, built on the first run, no download"
    model = model or DEFAULT_MODEL
    if preset is None and is_tiny(model, Path.cwd()):
        return model, "cpu", "a tiny model"
    if preset is None:
        from swiftkit.machine import fit, hardware

        gpus = hardware.detect().visible
        preset = fit.auto_preset(gpus) if gpus else "24gb"
        return model, preset, "the GPU preset for the smallest visible GPU" if gpus else ""
    return model, preset, ""


def write(
    directory: Path,
    name: str,
    author: str,
    model: str | None = None,
    preset: str | None = None,
    epochs: float | None = None,
) -> Written:
    """Write recipe.toml and identity.json (and, for a real model, the held-out probes)."""
    directory = directory.expanduser().resolve()
    chosen, preset, why = choose(model, preset)
    build = chosen is None
    model = TINY_DIR if chosen is None else chosen
    tiny = build or is_tiny(model, Path.cwd())
    if tiny and not build and not Path(model).is_absolute():
        model = str((Path.cwd() / model).resolve())
    epochs = epochs or (3 if preset == "cpu" else 10)
    probes = not tiny
    shipped = datasets_dir()
    sources = {"identity.json": shipped / "identity_full.json"}
    if probes:
        sources["probes/identity.jsonl"] = shipped / "probes" / "identity.jsonl"
        sources["probes/general.jsonl"] = shipped / "probes" / "general.jsonl"
    for src in sources.values():
        if not src.is_file():
            raise SwiftkitError.at(
                f"shipped dataset missing: {src}", str(src), "not found", fix="reinstall swiftkit"
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
    text = recipe_text(name, author, model, preset, epochs, probes, build_tiny=build)
    if preset == "cpu" and not tiny:
        refuse_large_cpu_model(text, sources)
    write_files(directory, text, sources)
    hint = None
    if preset == "cpu" and chosen is None:
        from swiftkit.msswift.command import shell_line

        gpu_dir = directory.with_name(directory.name + "-gpu")
        hint = shell_line(
            "swiftkit", "init", gpu_dir, "--name", name, "--author", author, "--preset", "24gb"
        )
    return Written(directory / "recipe.toml", targets, preset, why, hint)


def write_files(directory: Path, text: str, sources: dict[str, Path]) -> None:
    """recipe.toml holding `text`, and a copy of each source at its path under `directory`."""
    for rel, src in sources.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, directory / rel)
    (directory / "recipe.toml").write_text(text, encoding="utf-8")


def refuse_large_cpu_model(text: str, sources: dict[str, Path]) -> None:
    """A real model on the cpu preset: checked as `swiftkit run` would check it (the RAM
    estimate of machine/fit), in a scratch folder, before anything is written."""
    import tempfile

    from swiftkit import recipe
    from swiftkit.errors import errors_only
    from swiftkit.machine import fit

    with tempfile.TemporaryDirectory(prefix="swiftkit-init-") as tmp:
        write_files(Path(tmp), text, sources)
        errors = errors_only(fit.cpu_findings(recipe.load(Path(tmp) / "recipe.toml")))
    if errors:
        raise SwiftkitError.at(
            "the cpu preset cannot train this model here; nothing was written",
            "--preset cpu",
            errors[0].message,
            fix="drop --model for the tiny CPU test model, or choose a GPU preset "
            "(--preset 24gb) and run it on a GPU host",
        )


def ask(value: str | None, option: str, label: str) -> str:
    """A missing value: prompt on a terminal, else a usage error (nothing to wait for)."""
    if value and value.strip():
        return value.strip()
    if sys.stdin.isatty():
        return str(click.prompt(label)).strip()
    raise click.UsageError(f"missing {option} (or run in a terminal to be asked)")


@click.command("init")
@click.argument("directory", metavar="[DIR]", default=".", type=click.Path(path_type=Path))
@click.option("--name", help="The model's new name, e.g. Swift-Robot.")
@click.option("--author", help="Who made it, e.g. your team.")
@click.option(
    "--model",
    help="Hub id or local folder (default Qwen/Qwen2.5-7B-Instruct; without a GPU and without "
    "--preset, the tiny CPU test model).",
)
@click.option(
    "--preset",
    help="Hardware preset (default: the visible GPU's, e.g. 24gb; cpu and the tiny model "
    "without a GPU). --preset 24gb writes the GPU recipe anywhere.",
)
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="num_train_epochs.")
def init_command(
    directory: Path,
    name: str | None,
    author: str | None,
    model: str | None,
    preset: str | None,
    epochs: float | None,
) -> int:
    """Start here: write a ready-to-run recipe and the full identity set into DIR."""
    from swiftkit.msswift.command import shell_line

    name = ask(name, "--name", "The model's new name")
    author = ask(author, "--author", "Who made it (author)")
    written = write(directory, name, author, model, preset, epochs)
    for path in written.files:
        click.echo(f"wrote {path}")
    click.echo(f"preset: {written.preset}" + (f" ({written.why})" if written.why else ""))
    if written.gpu_hint:
        click.echo("for Qwen/Qwen2.5-7B-Instruct on a 24 GB GPU, the same with --preset 24gb:")
        click.echo(f"  {written.gpu_hint}")
    click.echo("next:")
    click.echo(f"  {shell_line('swiftkit', 'run', written.recipe)}")
    return 0
