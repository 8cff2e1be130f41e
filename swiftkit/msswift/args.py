"""What `swift sft` records in every checkpoint's args.json, as far as swiftkit reads it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftkit.errors import SwiftkitError

FILE = "args.json"  # in every checkpoint-N folder `swift sft` writes


def args_path(checkpoint: Path) -> Path:
    return checkpoint / FILE


def missing(checkpoint: Path) -> SwiftkitError:
    return SwiftkitError.at(
        f"checkpoint has no {FILE}: {checkpoint}",
        str(args_path(checkpoint)),
        "missing: it names the base model, template and system prompt",
        fix="pass a checkpoint written by `swift sft` (checkpoint-N)",
    )


def _strings(value: object) -> tuple[str, ...]:
    """args.json keeps some values as a string, some as a list: always a tuple here."""
    if isinstance(value, list):
        return tuple(str(v) for v in value if v)
    return (str(value),) if value else ()


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class CheckpointArgs:
    """What swiftkit reads of the args.json `swift sft` writes into every checkpoint."""

    model: str | None = None
    model_type: str | None = None
    template: str | None = None
    system: str | None = None
    model_name: tuple[str, ...] = ()
    model_author: tuple[str, ...] = ()
    dataset: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointArgs:
        return cls(
            model=_str(data.get("model")),
            model_type=_str(data.get("model_type")),
            template=_str(data.get("template")),
            system=_str(data.get("system")),
            model_name=_strings(data.get("model_name")),
            model_author=_strings(data.get("model_author")),
            dataset=_strings(data.get("dataset")),
        )

    @classmethod
    def read(cls, checkpoint: Path) -> CheckpointArgs:
        """A checkpoint's args.json; empty when it is missing or unreadable."""
        try:
            data = json.loads(args_path(checkpoint).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls.from_dict(data if isinstance(data, dict) else {})
