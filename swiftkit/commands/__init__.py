"""One module per command; what several of them share is here."""

from __future__ import annotations

from pathlib import Path

from swiftkit.pipeline.resolve import Target
from swiftkit.recipe.checks import refuse_model_code


def guard_model_code(target: Target, trusted: bool, command: str) -> None:
    """Before any child starts: the checkpoint and the local base model it names must not ship
    code, unless the user opted in (--trust-remote-code, or the run's recipe trusted it)."""
    trusted = trusted or target.manifest().recipe_resolved.trust_remote_code
    folders = [target.checkpoint]
    base = target.args().model
    if base and Path(base).is_dir():
        folders.append(Path(base))
    refuse_model_code(folders, trusted, command)
