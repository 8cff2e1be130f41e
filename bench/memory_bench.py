"""The memory estimate, measured: real `swift sft` LoRA steps on CPU beside the formula.

    python bench/memory_bench.py --quick          # 3 shapes, 12 runs, a table
    python bench/memory_bench.py --quick --json   # the same rows as JSON
    python bench/memory_bench.py                  # 4 shapes up to Qwen2.5-0.5B's exact config

Each shape is a random-weight Qwen2 built by swiftkit.tinymodel (its byte-level tokenizer; the
vocabulary rows are the real Qwen2.5 count, 151936, except for the tiny model's 1200, so the
logits are as wide as in a real run). Each run trains LoRA (rank 8, all-linear, float32, the cpu
preset's settings) for 2 steps on records longer than max_length, truncated to exactly
max_length (`--truncation_strategy right`, `--padding_free false`): every sequence is as long
as the estimate assumes. The measured peak is the process tree's
(swiftkit.machine.baseline.sample_peak): the trainer's peak RSS from the kernel (wait4's
high-water mark, exact even for the loss's millisecond-long vocabulary-wide tensors) plus the
private pages of the `swift` launcher and any forks, sampled every 20 ms with psutil.
The estimate is swiftkit.machine.estimate.estimate(device="cpu") with the baseline measured by
swiftkit.machine.baseline.measured() (the smallest real run less its own tensors; cached per
version set). RSS does not depend on the machine's load; time does: CPU seconds are reported.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from swiftkit.machine import baseline  # noqa: E402
from swiftkit.machine.estimate import Shape, estimate  # noqa: E402
from swiftkit.msswift import sft  # noqa: E402

MIB = 1 << 20

# Qwen2.5's proportions: head_dim 64 (128 from 1.5B up), 2 key/value heads (4 for 7B), MLP
# width ~5.4 x hidden, 151936 vocabulary rows (tied embeddings up to 3B).
SHAPES: dict[str, dict] = {
    # swiftkit's tiny model as built for the CPU tests (vocabulary 1200, the tokenizer's)
    "tiny": {},
    # Qwen2.5-0.5B scaled: hidden /3.5, layers /6; 44 M parameters, 89 % of them embedding
    "qwen2.5-44m": dict(
        hidden_size=256,
        intermediate_size=1344,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=151936,
    ),
    # Qwen2.5-0.5B scaled: hidden /1.75, layers /3; 117 M parameters
    "qwen2.5-117m": dict(
        hidden_size=512,
        intermediate_size=2752,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=2,
        vocab_size=151936,
    ),
    # Qwen2.5-0.5B's exact config (494 M parameters)
    "qwen2.5-0.5b": dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
    ),
}
# (batch, max_length) x gradient checkpointing on/off for each shape
QUICK = {
    "tiny": [(1, 256), (4, 512)],
    "qwen2.5-44m": [(1, 256), (2, 512)],
    "qwen2.5-117m": [(1, 256), (2, 512)],
}
FULL = {**QUICK, "qwen2.5-0.5b": [(1, 256), (1, 512)]}
STEPS = 2  # the Adam state exists from the first optimizer step on
LORA = dict(lora_rank=8, target_modules="all-linear", lora_dropout=0.05)


@dataclass
class Row:
    shape: str
    params_m: float
    batch: int
    max_length: int
    gradient_checkpointing: bool
    measured_peak_mib: float
    estimated_peak_mib: float
    cpu_s: float
    wall_s: float

    @property
    def ratio(self) -> float:
        return self.measured_peak_mib / self.estimated_peak_mib


def build_model(name: str, where: Path) -> Path:
    out = where / name
    if not (out / "config.json").is_file():
        spec = where / f"{name}.json"
        spec.write_text(json.dumps(SHAPES[name]), encoding="utf-8")
        args = [str(out)] + ([str(spec)] if SHAPES[name] else [])
        subprocess.run(
            [sys.executable, "-m", "swiftkit.tinymodel", *args],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return out


def measure(cmd: list, log: Path) -> tuple[float, float, float]:
    """(peak tree memory in MiB, CPU seconds, wall seconds) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    peak = baseline.sample_peak(proc)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - start
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"swift sft failed (exit {proc.returncode}); its log: {log}")
    return peak / MIB, cpu, wall


def run(plan: dict, where: Path, base_mib: float, progress: bool) -> list[Row]:
    rows = []
    for name, settings in plan.items():
        model = build_model(name, where)
        shape = Shape.from_config(json.loads((model / "config.json").read_text()))
        for batch, length in settings:
            data = where / f"data-{batch}x{length}.jsonl"
            if not data.is_file():
                baseline.write_dataset(data, batch * STEPS, length)
            for gc in (True, False):
                tag = f"{name}-b{batch}-l{length}-gc{int(gc)}"
                cmd = sft.memory_probe(model, data, where / tag, batch, length, gc, STEPS).argv
                peak, cpu, wall = measure(cmd, where / f"{tag}.log")
                est = estimate(
                    shape,
                    torch_dtype="float32",
                    batch=batch,
                    max_length=length,
                    gradient_checkpointing=gc,
                    device="cpu",
                    overhead_gib=base_mib * MIB / 2**30,
                    **LORA,
                )
                row = Row(
                    name,
                    shape.params / 1e6,
                    batch,
                    length,
                    gc,
                    round(peak, 1),
                    round(est.total * 1024, 1),
                    round(cpu, 1),
                    round(wall, 1),
                )
                rows.append(row)
                if progress:
                    print(table([row], header=not rows[:-1]), file=sys.stderr, flush=True)
    return rows


def table(rows: list[Row], header: bool = True) -> str:
    lines = []
    if header:
        lines += [
            "| shape | params | batch x max_length | grad. ckpt | measured peak MiB "
            "| estimate MiB | ratio | CPU s | wall s |",
            "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
    for r in rows:
        lines.append(
            f"| {r.shape} | {r.params_m:.1f} M | {r.batch} x {r.max_length} "
            f"| {'on' if r.gradient_checkpointing else 'off'} | {r.measured_peak_mib:.0f} "
            f"| {r.estimated_peak_mib:.0f} | {r.ratio:.3f} | {r.cpu_s:.0f} | {r.wall_s:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 shapes, 12 runs (about 500 s of CPU)")
    ap.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    ap.add_argument("--shape", action="append", help="only these shapes (repeatable)")
    ap.add_argument("--keep", type=Path, help="build models and write logs here (kept)")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.shape:
        plan = {k: v for k, v in FULL.items() if k in args.shape}
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    base = baseline.measured(refresh=False)
    with tempfile.TemporaryDirectory(prefix="swiftkit-membench-") as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        rows = run(plan, where, base.mib, progress=not args.json)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    wall = time.perf_counter() - start
    bad = [r for r in rows if not 0.85 <= r.ratio <= 1.15]
    if args.json:
        keys = (
            "shape batch max_length gradient_checkpointing measured_peak_mib "
            "estimated_peak_mib cpu_s wall_s"
        ).split()
        print(json.dumps([{k: getattr(r, k) for k in keys} for r in rows], indent=1))
    else:
        print(table(rows))
        print(
            f"\nbaseline (python + torch + ms-swift imported, launcher + trainer): "
            f"{base.mib:.0f} MiB ({base.versions}); {len(rows)} runs, {wall:.0f} s wall, "
            f"{cpu:.0f} s CPU; ratios {min(r.ratio for r in rows):.3f}-"
            f"{max(r.ratio for r in rows):.3f}"
        )
    print(f"{wall:.0f} s wall, {cpu:.0f} s CPU (children)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
