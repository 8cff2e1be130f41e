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


def test_an_earlier_base_class_wins_as_in_python(tmp_path):
    """Before: a later base's field overrode an earlier one's, against Python's method
    resolution order, so the reader took transformers' per_device_train_batch_size = 8 and
    gradient_checkpointing = False where ms-swift's mixin (the first base) declares 1 and True."""
    pkg = tmp_path / "swift"
    (pkg / "arguments").mkdir(parents=True)
    (pkg / "arguments" / "sft_args.py").write_text(
        "class Hf:\n    batch: int = 8\n    learning_rate: float = 5e-5\n"
        "class Mixin:\n    batch: int = 1\n"
        "class Train(Mixin, Hf):\n    max_length: int = 0\n"
        "class SftArguments(Train):\n    lora_rank: int = 8\n    model: str = ''\n"
    )
    details = sftflags.flag_details(pkg)
    assert details is not None and details["batch"].default == "1"


def test_ms_swifts_defaults_come_from_its_source():
    """One place answers ms-swift's defaults; None defaults that ms-swift fills at start say
    what it fills them with."""
    details = sftflags.flag_details()
    assert details is not None
    assert details["per_device_train_batch_size"].default == "1"
    assert details["gradient_checkpointing"].default == "True"
    assert sftflags.default("per_device_train_batch_size") == 1
    assert sftflags.default("gradient_checkpointing") is True
    assert sftflags.default("target_modules") == ["all-linear"]
    assert sftflags.default("lora_dropout") == 0.05
    assert details["gradient_accumulation_steps"].default == "None"
    assert sftflags.default("gradient_accumulation_steps") == 16
    assert sftflags.default("max_length") is None  # the model's context: no number to state
    assert sftflags.default("no_such_flag") is None


def test_the_shipped_table_holds_the_defaults_the_source_gives():
    data = json.loads(sftflags._FALLBACK.read_text(encoding="utf-8"))
    if any(data.get(k) != v for k, v in sftflags._versions().items()):
        pytest.skip(f"installed {sftflags._versions()}, table made for other versions")
    details = sftflags.flag_details()
    assert details is not None
    from_source = {n: sftflags._literal(f.default) for n, f in details.items()}
    assert data["defaults"] == {n: v for n, v in from_source.items() if v is not None}
