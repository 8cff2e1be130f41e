"""An ms-swift plugin: every few optimizer steps, greedily answer the identity probes with the
model being trained, judge them with swiftkit's scorer, and stop training (saving that step's
checkpoint) once `stop_after_checks` checks in a row pass: one lucky check does not stop it.

Loaded by `swift sft --external_plugins <this file> --callbacks swiftkit_stop_when_verified`.
Its settings are the JSON file $SWIFTKIT_STOP_CONFIG names (written by pipeline/stopcheck.py;
every key of KEYS is required: the defaults are swiftkit's, stated once there). It appends one
JSON line per check to "log" (relative to the settings file): the step, the loss, the score,
each answer with whether it passed and why, the streak, and whether training stops there.
This file runs inside ms-swift: torch is fine here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import torch
from swift.callbacks import callbacks_map
from swift.callbacks.base import TrainerCallback


def _load_scoring():
    """swiftkit/verify/scoring.py, two folders up, by path: the same scoring as the parent even
    when another swiftkit is importable in ms-swift's environment."""
    path = Path(__file__).resolve().parents[2] / "verify" / "scoring.py"
    spec = importlib.util.spec_from_file_location("_swiftkit_scoring", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


scoring = _load_scoring()

NAME = "swiftkit_stop_when_verified"
CONFIG_ENV = "SWIFTKIT_STOP_CONFIG"
KEYS = ["probes", "need", "new", "old", "threshold", "check_every", "stop_after_checks"]
KEYS += ["max_new_tokens", "batch", "log"]


class StopWhenVerified(TrainerCallback):
    def __init__(self, args, trainer):
        super().__init__(args, trainer)
        path = os.environ.get(CONFIG_ENV)
        if not path:
            raise ValueError(f"{NAME}: set {CONFIG_ENV} to the JSON settings file")
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
        missing = [k for k in KEYS if k not in cfg]
        if missing:  # every value comes from swiftkit's settings: none is guessed here
            raise ValueError(f"{NAME}: {path} lacks {', '.join(missing)}")
        self.probes = cfg["probes"]
        self.need = cfg["need"]  # per probe: what its answer must assert (from its `asks`)
        self.new = cfg["new"]
        self.old = cfg["old"]
        self.threshold = float(cfg["threshold"])
        self.every = max(1, int(cfg["check_every"]))
        self.needed = max(1, int(cfg["stop_after_checks"]))
        self.streak = 0  # passing checks in a row
        self.max_new_tokens = int(cfg["max_new_tokens"])
        self.batch = max(1, int(cfg["batch"]))
        self.log = Path(path).parent / cfg["log"]  # relative to the settings file, or absolute

    @torch.no_grad()
    def answers(self) -> list[tuple[str, bool]]:
        """Greedy answers, `batch` probes at a time (left-padded), each with whether it ran to
        max_new_tokens without an end-of-sequence token (cut off)."""
        template = self.trainer.template
        tokenizer = template.tokenizer
        model = self.trainer.model
        pad = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        eos = model.generation_config.eos_token_id
        stops = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
        stops.discard(None)
        was_training = model.training
        model.eval()
        out: list[tuple[str, bool]] = []
        try:
            encoded = []
            for messages in self.probes:
                with template.generate_context():
                    enc = template.encode({"messages": [dict(m) for m in messages]})
                encoded.append(list(enc["input_ids"]))
            for i in range(0, len(encoded), self.batch):
                chunk = encoded[i : i + self.batch]
                width = max(len(e) for e in chunk)
                ids = torch.tensor(
                    [[pad] * (width - len(e)) + e for e in chunk], device=model.device
                )
                mask = torch.tensor(
                    [[0] * (width - len(e)) + [1] * len(e) for e in chunk], device=model.device
                )
                gen = model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    use_cache=True,
                    pad_token_id=pad,
                )
                for row in gen[:, width:].tolist():
                    ended = any(t in stops for t in row)
                    cut = not ended and len(row) >= self.max_new_tokens
                    out.append((tokenizer.decode(row, skip_special_tokens=True), cut))
        finally:
            if was_training:
                model.train()
        return out

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step % self.every != 0 or step >= state.max_steps:
            return control
        start = time.monotonic()
        answered = self.answers()
        judged = [
            scoring.judge_identity(
                text, self.new, self.old, need=need, question=probe[-1]["content"], cut_off=cut
            )
            for (text, cut), need, probe in zip(answered, self.need, self.probes, strict=True)
        ]
        score = scoring.score([j.ok for j in judged])
        ok = score is not None and score >= self.threshold
        self.streak = self.streak + 1 if ok else 0
        stop = self.streak >= self.needed
        if args.process_index == 0:
            losses = [h["loss"] for h in state.log_history if "loss" in h]
            row = {
                "step": step,
                # the last loss ms-swift logged: up to logging_steps before this step, as the
                # trainer logs the step's own loss after its callbacks' on_step_end
                "loss": losses[-1] if losses else None,
                "score": score,
                "passed": sum(j.ok for j in judged),
                "total": len(judged),
                "verified": ok,
                "streak": self.streak,
                "stopped": stop,
                "seconds": round(time.monotonic() - start, 2),
                "answers": [text for text, _ in answered],
                "ok": [j.ok for j in judged],
                "why": [j.reason for j in judged],
                "cut_off": [cut for _, cut in answered],
            }
            with self.log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        if stop:
            control.should_training_stop = True
            control.should_save = True
        return control


callbacks_map[NAME] = StopWhenVerified
