"""An ms-swift plugin: every few optimizer steps, greedily answer the identity probes with the
model being trained and stop training (saving that step's checkpoint) once they pass.

Loaded by `swift sft --external_plugins <this file> --callbacks swiftkit_stop_when_verified`.
It reads its settings from the JSON file named by $SWIFTKIT_STOP_CONFIG:
    {"probes": [[{"role": "user", "content": "..."}], ...], "new": ["NAME", "AUTHOR"],
     "old": ["Qwen", ...], "threshold": 0.9, "check_every": 10, "max_new_tokens": 64,
     "log": "/abs/run/verify/stop_checks.jsonl"}
and appends one JSON line per check to "log". This file runs inside ms-swift: torch is fine here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import torch
from swift.callbacks import callbacks_map
from swift.callbacks.base import TrainerCallback


def _load_scoring():
    """swiftkit/verify/scoring.py beside this folder, by path: the same scoring as the parent even
    when another swiftkit is importable in ms-swift's environment."""
    path = Path(__file__).resolve().parents[1] / "verify" / "scoring.py"
    spec = importlib.util.spec_from_file_location("_swiftkit_scoring", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scoring = _load_scoring()

NAME = "swiftkit_stop_when_verified"
CONFIG_ENV = "SWIFTKIT_STOP_CONFIG"


class StopWhenVerified(TrainerCallback):
    def __init__(self, args, trainer):
        super().__init__(args, trainer)
        path = os.environ.get(CONFIG_ENV)
        if not path:
            raise ValueError(f"{NAME}: set {CONFIG_ENV} to the JSON settings file")
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
        self.probes = cfg["probes"]
        self.new = cfg["new"]
        self.old = cfg["old"]
        self.threshold = float(cfg["threshold"])
        self.every = max(1, int(cfg.get("check_every", 10)))
        self.max_new_tokens = int(cfg.get("max_new_tokens", 64))
        self.log = Path(cfg["log"]) if cfg.get("log") else None

    @torch.no_grad()
    def answers(self) -> list[str]:
        template = self.trainer.template
        tokenizer = template.tokenizer
        model = self.trainer.model
        was_training = model.training
        model.eval()
        out = []
        try:
            for messages in self.probes:
                with template.generate_context():
                    enc = template.encode({"messages": [dict(m) for m in messages]})
                ids = torch.tensor([enc["input_ids"]], device=model.device)
                gen = model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    use_cache=True,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                )
                out.append(tokenizer.decode(gen[0, ids.shape[1] :], skip_special_tokens=True))
        finally:
            if was_training:
                model.train()
        return out

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step % self.every != 0 or step >= state.max_steps:
            return control
        start = time.monotonic()
        answers = self.answers()
        passed = [scoring.identity_ok(a, self.new, self.old) for a in answers]
        score = scoring.score(passed)
        ok = score is not None and score >= self.threshold
        if self.log and args.process_index == 0:
            row = {
                "step": step,
                "score": score,
                "passed": sum(passed),
                "total": len(passed),
                "verified": ok,
                "seconds": round(time.monotonic() - start, 2),
                "answers": answers,
            }
            with self.log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        if ok:
            control.should_training_stop = True
            control.should_save = True
        return control


callbacks_map[NAME] = StopWhenVerified
