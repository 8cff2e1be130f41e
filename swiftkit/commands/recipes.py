"""`swiftkit recipes` lists the shipped recipes; `swiftkit recipes copy NAME DIR` writes one
out for editing, its paths rewritten so that it runs from DIR (torchtune's `tune ls` and
`tune cp`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from swiftkit.errors import SwiftkitError, did_you_mean, writing
from swiftkit.resources import DATASETS, RECIPES

# A shipped recipe names its files relative to itself, from recipes/: "../datasets/x.json",
# "../output", "../.models/tiny-qwen2".
UP = re.compile(r'"\.\./([^"\\]*)"')


def shipped() -> dict[str, Path]:
    return {path.stem: path for path in sorted(RECIPES.glob("*.toml"))}


def summary(path: Path) -> str:
    """The recipe's first comment line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next((x.lstrip("#").strip() for x in lines if x.startswith("#")), "")


def find(name: str) -> Path:
    recipes = shipped()
    stem = name.removesuffix(".toml")
    if stem in recipes:
        return recipes[stem]
    known = f"not one of: {', '.join(recipes)}. {did_you_mean(stem, recipes)}".strip()
    raise SwiftkitError.at(
        f"no shipped recipe named {name!r}", name, known, fix="`swiftkit recipes` lists them"
    )


def relocated(text: str) -> str:
    """The recipe as it runs from another folder: the shipped datasets by absolute path, what
    a run writes or builds (output, the tiny model) relative to the copy."""

    def moved(match: re.Match[str]) -> str:
        rest = match.group(1)
        if rest == "datasets" or rest.startswith("datasets/"):
            return json.dumps(str(DATASETS) + rest.removeprefix("datasets"), ensure_ascii=False)
        return json.dumps(rest, ensure_ascii=False)

    return UP.sub(moved, text)


def copy(name: str, directory: Path) -> Path:
    source = find(name)
    target = directory.expanduser().resolve() / source.name
    if target.exists():
        raise SwiftkitError.at(
            f"refusing to overwrite {target}",
            str(target),
            "already exists",
            fix="choose another DIR",
        )
    with writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(relocated(source.read_text(encoding="utf-8")), encoding="utf-8")
    return target


@click.group("recipes", invoke_without_command=True)
@click.pass_context
def recipes_command(ctx: click.Context) -> int:
    """List the shipped recipes, or copy one out for editing (`swiftkit recipes copy NAME DIR`)."""
    if ctx.invoked_subcommand is None:
        recipes = shipped()
        width = max(len(name) for name in recipes)
        for name, path in recipes.items():
            click.echo(f"{name:<{width}}  {summary(path)}")
    return 0


@recipes_command.command("copy")
@click.argument("name")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
def copy_command(name: str, directory: Path) -> int:
    """Write the shipped recipe NAME into DIR (never over a file), with its dataset paths
    pointing at the shipped data and its output beside the copy."""
    from swiftkit.msswift.command import shell_line

    target = copy(name, directory)
    click.echo(f"wrote {target}")
    click.echo("next:")
    click.echo(f"  {shell_line('swiftkit', 'run', target)}")
    return 0
