"""What `swift sft` records in every checkpoint's args.json, as far as swiftkit reads it."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
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
        """args.json keeps some values as a string, some as a list: the tuple fields take
        either; a str field takes only a string."""
        out: dict[str, Any] = {}
        for f in fields(cls):
            v = data.get(f.name)
            if f.type == "str | None":
                out[f.name] = v if isinstance(v, str) else None
            elif isinstance(v, list):
                out[f.name] = tuple(str(x) for x in v if x)
            else:
                out[f.name] = (str(v),) if v else ()
        return cls(**out)

    @classmethod
    def read(cls, checkpoint: Path) -> CheckpointArgs:
        """A checkpoint's args.json; empty when it is missing or unreadable."""
        try:
            data = json.loads(args_path(checkpoint).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls.from_dict(data if isinstance(data, dict) else {})
