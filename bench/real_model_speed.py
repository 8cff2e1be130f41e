"""The speed claim, side by side on the real model (SmolLM2-135M-Instruct, built offline): the
blog's hyperparameters (bench/recipes/blog-smollm2.toml) against swiftkit's recipe
(recipes/smollm2-cpu.toml, stop-when-verified), in one run, each verified on the same held-out
English probes. Prints optimizer steps, CPU seconds (children included: ms-swift, the probes),
wall seconds, the verdict, and the ratio of CPU seconds.

    python bench/real_model_speed.py   # about 1 h on 2 loaded cores; runs in output_dir

CPU seconds are the figure to compare: wall time on a shared machine varies several-fold.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "blog": ROOT / "bench" / "recipes" / "blog-smollm2.toml",
    "swiftkit": ROOT / "recipes" / "smollm2-cpu.toml",
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


QUIET: dict = {"capture_output": True, "text": True}


def run(name: str, recipe: Path) -> dict:
    before, start = children_cpu(), time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "swiftkit", "run", str(recipe)], **QUIET)
    cpu, wall = children_cpu() - before, time.monotonic() - start
    folders = [line[5:] for line in proc.stdout.splitlines() if line.startswith("run: ")]
    if not folders:
        raise SystemExit(f"{name}: no run folder; swiftkit said:\n{proc.stdout}\n{proc.stderr}")
    m = json.loads((Path(folders[0]) / "manifest.json").read_text(encoding="utf-8"))
    v = m.get("verify") or {}
    return {
        "recipe": name,
        "steps": m.get("steps"),
        "cpu_s": round(cpu),
        "wall_s": round(wall),
        "verdict": v.get("verdict"),
        "identity": v.get("identity"),
        "identity_base": v.get("identity_base"),
        "general": v.get("general"),
        "general_base": v.get("general_base"),
        "exit": proc.returncode,
    }


def main() -> int:
    load = os.getloadavg()[0]
    rows = [run(name, recipe) for name, recipe in RECIPES.items()]
    print(f"load {load:.1f} -> {os.getloadavg()[0]:.1f}")
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    blog, ours = rows
    print(f"CPU seconds, swiftkit / blog: {ours['cpu_s'] / blog['cpu_s']:.2f}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
