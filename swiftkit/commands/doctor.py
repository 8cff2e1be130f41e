"""`swiftkit doctor` and `swiftkit presets`: what this machine has, what `auto` picks."""

from __future__ import annotations

import sys
from pathlib import Path

from swiftkit import recipe
from swiftkit.machine import fit, hardware
from swiftkit.render import compat


def presets_report() -> list[str]:
    rows = recipe.presets()
    width = max(len(p["name"]) for p in rows)
    lines = []
    for p in rows:
        need = f">= {p['min_vram_gb']} GB" if p.get("device") == "cuda" else "no GPU"
        lines.append(
            f"{p['name']:<{width}}  {p.get('device', '?'):<4}  {need:<8}  "
            f"{p.get('description', '')}"
        )
    auto = recipe.auto_preset()
    lines.append(f"auto picks '{auto}' on this machine (`swiftkit doctor` shows why)")
    return lines


def doctor_report(recipe_path: Path | None = None) -> list[str]:
    m = hardware.detect()
    lines = []
    if m.gpus:
        for g in m.gpus:
            cap = f"{g.compute_cap:g}" if g.compute_cap is not None else "unknown"
            dtype = "bf16" if g.bf16 else "fp16"
            lines.append(
                f"GPU {g.index}: {g.name}, {g.memory_gib:.1f} GiB, compute capability {cap} "
                f"({dtype})"
            )
        visible = m.visible
        if len(visible) != len(m.gpus):
            lines.append(f"visible to training (CUDA_VISIBLE_DEVICES): {len(visible)}")
        lines.append(f"CUDA (driver): {m.cuda or 'unknown'}, driver {m.driver or 'unknown'}")
    else:
        lines.append(f"GPU: no GPU ({m.problem or 'nvidia-smi not found'})")
        lines.append("CUDA: none")
    for dist in ("ms-swift", "torch", "transformers", "peft", "deepspeed", "bitsandbytes"):
        lines.append(f"{dist}: {compat.installed_version(dist) or 'not installed'}")
    lines.append(f"python: {sys.version.split()[0]}")
    auto = recipe.auto_preset()
    desc = recipe.load_preset(auto).get("description", "")
    lines.append(f"preset auto: {auto} ({desc})")
    if recipe_path is not None:
        rec = recipe.load(recipe_path)
        est = fit.estimate_for(rec)
        lines.append(
            f"recipe {recipe_path}: preset {rec.preset['name']}, world size {rec.world_size}"
        )
        if est is None:
            lines.append("  memory: unknown model shape (no config.json, not in the table)")
        else:
            lines += ["  " + line for line in est.lines()]
        for f in fit.check(rec, m):
            lines.append("  " + f.format().replace("\n", "\n  "))
    return lines
