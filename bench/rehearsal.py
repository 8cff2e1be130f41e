"""Helpers of bench/gpu_rehearsal.sh (a script for the shell; this is its arithmetic).

    python bench/rehearsal.py recipe OUT MODEL PRESET STEPS   # write OUT/recipe.toml
    python bench/rehearsal.py phase OUT NAME -- CMD...        # run one phase, measured
    python bench/rehearsal.py summary OUT                     # OUT/summary.json and .md

A phase runs CMD with this folder's peakhook/ on PYTHONPATH (every Python process of the
phase reports torch.cuda.max_memory_allocated/reserved and its peak RSS), samples
`nvidia-smi --query-gpu=memory.used` every 200 ms when there is one, and the process tree's
memory (swiftkit.machine.baseline.tree_memory) every 20 ms; it records wall and CPU seconds
and the exit status in OUT/phases/NAME.json.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import phase_memory  # noqa: E402

from swiftkit.machine import baseline, estimate, fit, hardware  # noqa: E402
from swiftkit.recipe import load  # noqa: E402

MIB = 1024**2


def write_recipe(out: Path, model: Path, preset: str, steps: int) -> Path:
    text = f"""# written by bench/gpu_rehearsal.sh: {steps} steps of the identity flow
[model]
id = "{model.resolve()}"

[identity]
name = "Swift-Robot"
author = "CSDN 迪菲赫尔曼"

[data]
datasets = ["{(ROOT / "datasets" / "self_cognition.json").resolve()}"]

[train]
preset = "{preset}"
max_steps = {steps}
save_steps = {steps}
output_dir = "{(out / "runs").resolve()}"
system = "You are a helpful assistant."

[verify]
identity_probes = ["training"]
"""
    path = out / "recipe.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_phase(out: Path, name: str, cmd: list[str]) -> int:
    phases = out / "phases"
    hook_dir = phases / f"{name}-hook"
    hook_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SWIFTKIT_PEAK_DIR=str(hook_dir))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "bench" / "peakhook"), env.get("PYTHONPATH", "")) if p
    )
    smi = None
    smi_log = phases / f"{name}-nvidia-smi.csv"
    if shutil.which("nvidia-smi"):
        smi = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=index,memory.used", "--format=csv,noheader,nounits"]
            + ["-lms", "200"],
            stdout=smi_log.open("w"),
            stderr=subprocess.DEVNULL,
        )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with (phases / f"{name}.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        tree_peak = baseline.sample_peak(proc)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if smi is not None:
        smi.terminate()
        smi.wait()
    smi_peak = None
    if smi_log.is_file():
        used = [
            float(line.split(",")[1])
            for line in smi_log.read_text().splitlines()
            if line.count(",") == 1 and line.split(",")[1].strip().replace(".", "").isdigit()
        ]
        smi_peak = max(used) if used else None
    hooks = [json.loads(p.read_text()) for p in sorted(hook_dir.glob("peak-*.json"))]
    record = {
        "phase": name,
        "command": cmd,
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "tree_peak_mib": round(tree_peak / MIB, 1),
        "nvidia_smi_peak_mib": smi_peak,
        "cuda_max_allocated_mib": max(
            (h.get("cuda_max_allocated_mib", 0) for h in hooks), default=None
        ),
        "cuda_max_reserved_mib": max(
            (h.get("cuda_max_reserved_mib", 0) for h in hooks), default=None
        ),
        "processes": hooks,
    }
    (phases / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return proc.returncode


def estimates(recipe: Path) -> dict[str, dict]:
    """Per phase: the estimate in MiB on the device the phase uses, with its terms."""
    rec = fit.bind(load(recipe), hardware.detect())
    shape = estimate.shape_of(rec.model.id, rec.model.path)
    assert shape is not None, "the rehearsal model has a config.json"
    args = fit.estimate_args(rec)
    device = rec.train.device
    train = fit.estimate_for(rec)
    assert train is not None
    # on a CPU each phase's process holds the measured baseline; on a GPU the CUDA allowance
    base = None if device == "cuda" else baseline.cached().mib / 1024
    dtype = args["torch_dtype"]
    infer = phase_memory.inference(shape, torch_dtype=dtype, device=device, overhead_gib=base)
    merge = phase_memory.merge(shape, torch_dtype=dtype, device=device, overhead_gib=base)
    return {
        "train": {"device": device, "mib": round(train.total * 1024), "terms": train.lines()},
        "verify": {"device": device, "mib": round(infer.total * 1024), "terms": infer.lines()},
        "export": {"device": device, "mib": round(merge.total * 1024), "terms": merge.lines()},
    }


def summary(out: Path) -> int:
    est = estimates(out / "recipe.toml")
    rows = []
    for name in ("train", "verify", "export"):
        path = out / "phases" / f"{name}.json"
        if not path.is_file():
            continue
        got = json.loads(path.read_text())
        measured = got["cuda_max_reserved_mib"] if est[name]["device"] == "cuda" else None
        rows.append(
            {
                **{k: v for k, v in got.items() if k not in ("processes", "command")},
                "estimate_mib": est[name]["mib"],
                "estimate_terms": est[name]["terms"],
                "device": est[name]["device"],
                "ratio": round((measured or got["tree_peak_mib"]) / est[name]["mib"], 3),
            }
        )
    (out / "summary.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    lines = [
        f"# Rehearsal: {out}",
        "",
        "| phase | exit | wall s | CPU s | process tree peak MiB | nvidia-smi peak MiB "
        "| cuda max allocated MiB | cuda max reserved MiB | estimate MiB | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['phase']} | {r['returncode']} | {r['wall_s']} | {r['cpu_s']} "
            f"| {r['tree_peak_mib']} | {r['nvidia_smi_peak_mib']} "
            f"| {r['cuda_max_allocated_mib']} | {r['cuda_max_reserved_mib']} "
            f"| {r['estimate_mib']} | {r['ratio']} |"
        )
    lines += ["", "ratio: measured / estimate (on a GPU: cuda max reserved; on a CPU: the tree)"]
    for name, e in est.items():
        lines += ["", f"{name} estimate ({e['device']}):", *(f"    {t}" for t in e["terms"])]
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["recipe"] and len(argv) == 5:
        print(write_recipe(Path(argv[1]), Path(argv[2]), argv[3], int(argv[4])))
        return 0
    if argv[:1] == ["phase"] and len(argv) > 4 and argv[3] == "--":
        return run_phase(Path(argv[1]), argv[2], argv[4:])
    if argv[:1] == ["summary"] and len(argv) == 2:
        return summary(Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
