"""The hyperparameter table of recipes/smollm2-cpu.toml: the recipe with one setting changed
per row, each trained and verified in turn on the real model (stop-when-verified on), printed
as steps, CPU seconds, the held-out verdict and general ability before/after.

    python bench/real_model_sweep.py              # the rows below; ~10 CPU min each on 2 cores
    python bench/real_model_sweep.py lr=5e-4      # one row: key=value under [train]

Run it beside nothing else, or compare rows only as ratios: CPU seconds on a shared machine
still vary. OMP_NUM_THREADS=1 keeps torch's thread spinning out of the figures.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_model_speed import RECIPES, ROOT, run  # noqa: E402

ROWS = ["learning_rate=5e-4", "learning_rate=2e-3", "gradient_accumulation_steps=8"]


def variant(change: str, folder: Path) -> Path:
    key, value = change.split("=", 1)
    text = RECIPES["swiftkit"].read_text(encoding="utf-8").replace('"../', f'"{ROOT}/')
    text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    if not n:
        text = text.replace("[train]\n", f"[train]\n{key} = {value}\n", 1)
    path = folder / f"{key}-{value}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main(changes: list[str]) -> int:
    folder = ROOT / "output" / "sweep"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [run(change, variant(change, folder)) for change in changes or ROWS]
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
