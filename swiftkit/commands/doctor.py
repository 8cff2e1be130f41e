"""`swiftkit doctor` and `swiftkit presets`: what this machine has, what `auto` picks."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from swiftkit import recipe
from swiftkit.machine import fit, hardware
from swiftkit.msswift import compat
from swiftkit.recipe import presets


def doctor(recipe_path: Path | None = None) -> tuple[list[str], int]:
    """The report's lines and how many errors it lists that stop the recipe here."""
    m = hardware.detect()
    blocking = 0
    lines = []
    if m.gpus:
        for g in m.gpus:
            cap = f"{g.compute_cap:g}" if g.compute_cap is not None else "unknown"
            lines.append(
                f"GPU {g.index}: {g.name}, {g.memory_gib:.1f} GiB, compute capability {cap} "
                f"({'bf16' if g.bf16 else 'fp16'})"
            )
        if len(m.visible) != len(m.gpus):
            lines.append(f"visible to training (CUDA_VISIBLE_DEVICES): {len(m.visible)}")
        lines.append(f"CUDA (driver): {m.cuda or 'unknown'}, driver {m.driver or 'unknown'}")
    else:
        lines.append(f"GPU: no GPU ({m.problem or 'nvidia-smi not found'})")
        lines.append("CUDA: none")
    dists = ("ms-swift", "torch", "transformers", "peft", "deepspeed", "bitsandbytes")
    lines += [f"{d}: {compat.installed_version(d) or 'not installed'}" for d in dists]
    lines.append(f"python: {sys.version.split()[0]}")
    auto = fit.auto_preset(m.visible)
    lines.append(f"preset auto: {auto} ({presets.load(auto).description})")
    if recipe_path is not None:
        rec = fit.bind(recipe.load(recipe_path), m)
        est = fit.estimate_for(rec)
        preset = rec.train.preset.name if rec.train.preset else rec.train.preset_name
        lines.append(f"recipe {recipe_path}: preset {preset}, world size {rec.launch.world_size()}")
        if est is None:
            lines.append("  memory: unknown model shape (no config.json, not in the table)")
        else:
            lines += ["  " + line for line in est.lines()]
        for f in fit.check(rec, m):
            lines.append("  " + f.format().replace("\n", "\n  "))
            blocking += f.severity == "error"
        if blocking:
            lines.append(f"{blocking} error(s) above stop this recipe on this machine (exit 1)")
    return lines, blocking


@click.command("presets")
def presets_command() -> int:
    """List the hardware presets a recipe can name under [train] preset (or "auto")."""
    rows = presets.all_presets()
    width = max(len(p.name) for p in rows)
    for p in rows:
        need = f">= {p.min_vram_gb or 0:g} GB" if p.device == "cuda" else "no GPU"
        click.echo(f"{p.name:<{width}}  {p.device:<4}  {need:<8}  {p.description}")
    auto = fit.auto_preset(hardware.detect().visible)
    click.echo(f"auto picks '{auto}' on this machine (`swiftkit doctor` shows why)")
    return 0


@click.command("doctor")
@click.argument("recipe_path", metavar="[RECIPE]", required=False, type=click.Path(path_type=Path))
def doctor_command(recipe_path: Path | None) -> int:
    """Show this machine (GPUs, CUDA, versions) and the preset `auto` picks; with a recipe,
    its estimated peak memory and whether it fits. Exit 1 when an error stops it here."""
    lines, blocking = doctor(recipe_path)
    for line in lines:
        click.echo(line)
    return 1 if blocking else 0
