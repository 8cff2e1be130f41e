"""`swiftkit run RECIPE`: check everything, launch `swift sft`, watch it, find the checkpoint
(the work is swiftkit/pipeline/: plan, checks, train)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from swiftkit.pipeline import train
from swiftkit.pipeline.plan import paste_plan, plan, resume_plan


def execute(
    recipe_path: Path,
    echo: Callable[[str], None],
    dry_run: bool = False,
    check: bool = True,
    resume: bool = False,
) -> int:
    if dry_run and not resume:
        p = paste_plan(recipe_path, echo)
    else:
        p = resume_plan(recipe_path) if resume else plan(recipe_path)
    for w in p.warnings:
        echo(w.format())
    if dry_run:
        echo(p.command.shell())
        return 0
    return train.start(p, echo, check, resume)
