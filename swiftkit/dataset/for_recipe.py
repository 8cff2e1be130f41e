"""A recipe's datasets checked as that recipe will train on them."""

from __future__ import annotations

from collections.abc import Callable

from swiftkit.dataset import Checked, check_file
from swiftkit.dataset.duplicates import Seen, cross_file_conflicts
from swiftkit.dataset.length import TokenCounter
from swiftkit.errors import Finding
from swiftkit.recipe.model import Recipe


def recipe_data_findings(rec: Recipe) -> list[Finding]:
    """Placeholders filled from [identity], token length against max_length, one question
    answered two ways across files, and enough records for one optimizer step."""
    findings: list[Finding] = []
    max_length, system, identity = rec.train.max_length, rec.train.system, rec.identity.fills()
    counter = TokenCounter(rec.model.path) if max_length else None
    trained = 0  # records one epoch trains on
    countable = True
    loaded: list[Seen] = []
    checked_files: list[Checked] = []

    def at(key: str, message: str, fix: str, make: Callable[..., Finding] = Finding.error) -> None:
        line = rec.line_of(*key.split(".")) or rec.line_of("data", "datasets")
        findings.append(make(str(rec.path), message, line=line, field=key, fix=fix))

    for ref in rec.data.datasets:
        if ref.path is None:
            if ref.sample:
                trained += ref.sample
            else:
                countable = False  # a whole hub dataset: large enough, and not read here
            continue
        if not ref.path.is_file():
            countable = False  # reported by recipe.check
            continue
        checked = check_file(ref.path, identity, max_length, counter, system)
        findings += checked.result()
        checked_files.append(checked)
        loaded.append(checked.seen)
        trained += min(checked.usable, ref.sample) if ref.sample else checked.usable
    findings += cross_file_conflicts(loaded)
    if identity and countable and trained and not any(c.says for c in checked_files):
        said = " or ".join(repr(v) for v in identity.values())
        message = (
            f"no record of the datasets says {said}, nor {{{{NAME}}}}/{{{{AUTHOR}}}}: training "
            "would not teach this identity, and the 'training' probes would be empty"
        )
        fix = "write {{NAME}} and {{AUTHOR}} in the answers (datasets/identity_full.json does)"
        at("data.datasets", message, fix)
    for ref in rec.data.val_datasets:  # evaluated, not trained on: same record checks, no counting
        if ref.path is not None and ref.path.is_file():
            findings += check_file(ref.path, identity, max_length, counter, system).result()
    batch = max(1, rec.train.int_value("per_device_train_batch_size", 1))
    accum = max(1, rec.train.int_value("gradient_accumulation_steps", 1))
    world = rec.launch.world_size()
    needed = batch * accum * world
    epochs = rec.train.value("num_train_epochs")
    steps = trained / needed * epochs if isinstance(epochs, (int, float)) else 1
    if countable and trained >= needed and steps < 1 and rec.train.int_value("max_steps", -1) < 1:
        message = (
            f"num_train_epochs = {epochs} over {trained} record(s) is {steps:.2g} of one "
            f"optimizer step ({needed} records each): the identity cannot be learned"
        )
        fix = (
            f"set num_train_epochs to at least {needed / trained:.2g} (identity runs take 1 to 20)"
        )
        at("train.num_train_epochs", message, fix)
    if countable and not any(f.is_error for f in findings) and trained < needed:
        key = "gradient_accumulation_steps" if accum > 1 else "per_device_train_batch_size"
        message = (
            f"{trained} usable record(s), fewer than one optimizer step takes: "
            f"per_device_train_batch_size {batch} x gradient_accumulation_steps {accum} x "
            f"{world} process(es) = {needed}"
        )
        if trained:
            message += "; each epoch is a single step over fewer records"
        if not rec.train.set_by_recipe(key) and rec.train.preset:
            message += f" ({key} comes from preset '{rec.train.preset_name}')"
        fix = (
            f"add records (at least {needed}), or lower {key} under [train] (the preset may set it)"
        )
        # Measured on ms-swift 4.6 / transformers: 3 records at batch 1 x accumulation 16 train
        # one optimizer step over 3 records per epoch and exit 0, so this is a warning; with
        # no usable record at all there is nothing to train on.
        at(f"train.{key}", message, fix, Finding.warning if trained else Finding.error)
    return findings
