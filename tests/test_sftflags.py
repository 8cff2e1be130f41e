"""The `swift sft` flag set, read from ms-swift's source as text, never imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from swiftkit.msswift import sftflags


def test_installed_ms_swift_flags_come_from_source():
    flags = sftflags.from_source()
    assert flags is not None
    # ms-swift's own (sft, tuner, data, template) and transformers' TrainingArguments fields
    for name in ("tuner_type", "lora_rank", "max_length", "system", "strict", "learning_rate"):
        assert name in flags
    assert "train_type" not in flags  # renamed in 4.1


def test_shipped_table_matches_the_installed_version():
    """The table stands in for the source only for the versions it was made from."""
    data = json.loads(sftflags._FALLBACK.read_text(encoding="utf-8"))
    if any(data.get(k) != v for k, v in sftflags._versions().items()):
        pytest.skip(f"installed {sftflags._versions()}, table made for other versions")
    assert set(data["flags"]) == sftflags.from_source(), "run: python -m swiftkit.msswift.sftflags"


def test_reader_follows_imports_aliases_and_reexports(tmp_path):
    pkg = tmp_path / "swift"
    (pkg / "arguments" / "base").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "arguments" / "__init__.py").write_text("")
    (pkg / "arguments" / "base" / "__init__.py").write_text("from .model import ModelArgs\n")
    (pkg / "arguments" / "base" / "model.py").write_text(
        "class Mixin:\n    max_length: int = 1\n\nclass ModelArgs(Mixin):\n    model: str = ''\n"
    )
    (pkg / "arguments" / "sft_args.py").write_text(
        "from .base import ModelArgs as Base\nfrom typing import ClassVar\n"
        "class SftArguments(Base):\n    lora_rank: int = 8\n    learning_rate: float = 1e-4\n"
        "    _private: int = 0\n    registry: ClassVar[dict] = {}\n    def f(self):\n"
        "        local: int = 3\n"
    )
    assert sftflags.from_source(pkg) == {"model", "max_length", "lora_rank", "learning_rate"}


def test_unknown_layout_falls_back_to_none(tmp_path):
    assert sftflags.from_source(tmp_path) is None


def test_reading_flags_imports_nothing_heavy():
    code = (
        "import sys; from swiftkit.msswift import sftflags; sftflags.known_flags();"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch','transformers','swift'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
