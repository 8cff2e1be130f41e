"""Benchmark (not a test): how much earlier `swiftkit validate` answers than `swift sft`.

    python bench/validate_bench.py [--model DIR] [--repeat 5]

Measures, as wall time of a child process (what a user waits for):
  1. time to first error on the same bad dataset (the blog's file cut in half, the issue's
     "Expected object or value at position 65" case): `swiftkit validate` vs `swift sft`
     with the tiny CPU model, and the ratio;
  2. `swiftkit validate` on the small shipped files (a dataset, a recipe);
  3. `swiftkit validate` on a generated 10,000-record dataset;
  4. `swiftkit --help` start-up.
Targets (issue 3): validate < 0.5 s on small files, < 2 s on 10,000 records, start-up < 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
SWIFTKIT = [sys.executable, "-m", "swiftkit"]


CPU: list[float] = []  # CPU seconds (user + sys) of each timed child, for a loaded machine


def timed(argv: list[str], cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd or ROOT, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, proc


def cpu(n: int = 1) -> str:
    """The median CPU time of the last n timed children."""
    return f"cpu {statistics.median(CPU[-n:]):.2f} s"


def median_time(argv: list[str], repeat: int) -> tuple[float, subprocess.CompletedProcess]:
    runs = [timed(argv) for _ in range(repeat)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


def first_line(text: str, needle: str) -> str:
    return next((line.strip() for line in text.splitlines() if needle in line), "")[:160]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="tiny model folder (built when absent)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="swiftkit-bench-"))
    try:
        model = args.model or work / "tiny-qwen2"
        if not (model / "config.json").is_file():
            t, proc = timed([*SWIFTKIT, "tiny-model", str(model)])
            if proc.returncode:
                print(proc.stderr)
                return 1
            print(f"built the tiny model in {t:.1f} s: {model}")

        # 1. the same bad dataset, both tools
        text = (ROOT / "datasets" / "self_cognition.json").read_text(encoding="utf-8")
        bad = work / "truncated.json"
        bad.write_text(text[: len(text) // 2], encoding="utf-8")
        t_val, p_val = timed([*SWIFTKIT, "validate", str(bad)])
        c_val = cpu()
        swift = shutil.which("swift") or str(Path(sys.executable).parent / "swift")
        sft = [
            swift, "sft", "--model", str(model), "--model_type", "qwen2",
            "--template", "qwen2_5", "--tuner_type", "lora", "--dataset", str(bad),
            "--torch_dtype", "float32", "--max_length", "512", "--output_dir",
            str(work / "out"), "--check_model", "false", "--dataloader_num_workers", "0",
            "--gradient_accumulation_steps", "1", "--strict", "true",
        ]  # fmt: skip
        t_sft, p_sft = timed(sft, cwd=work)
        c_sft = cpu()
        print("\n1. time to first error, truncated JSON dataset (same file)")
        print(f"   swiftkit validate: {t_val:6.2f} s  ({c_val})  exit {p_val.returncode}")
        print(f"      {first_line(p_val.stdout, 'error:')}")
        print(f"   swift sft:         {t_sft:6.2f} s  ({c_sft})  exit {p_sft.returncode}")
        print(f"      {first_line(p_sft.stderr + p_sft.stdout, 'Error')}")
        print(f"   ratio: swift sft takes {t_sft / t_val:.0f}x longer to fail")

        # 2. small files
        print(f"\n2. swiftkit validate on small files (median of {args.repeat})")
        for path in (
            ROOT / "datasets" / "self_cognition.json",
            ROOT / "datasets" / "identity_full.json",
            ROOT / "recipes" / "identity.toml",
            ROOT / "recipes" / "tiny-cpu.toml",
        ):
            t, proc = median_time([*SWIFTKIT, "validate", str(path)], args.repeat)
            rel = str(path.relative_to(ROOT))
            print(f"   {rel:32} {t:5.2f} s  ({cpu(args.repeat)})  exit {proc.returncode}")

        # 3. 10,000 records
        big = work / "big.json"
        records = [
            {
                "instruction": f"第{i}个问题:你是谁?请介绍一下你自己。",
                "input": "",
                "output": f"我是{{{{NAME}}}},由{{{{AUTHOR}}}}开发和维护的AI助手。这是第{i}个回答。",
            }
            for i in range(10_000)
        ]
        big.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
        n = max(3, args.repeat // 2)
        t, proc = median_time([*SWIFTKIT, "validate", str(big)], n)
        print(f"\n3. swiftkit validate, 10,000 records ({big.stat().st_size // 1024} KiB)")
        summary = proc.stdout.strip().splitlines()[-1]
        print(f"   {t:.2f} s  ({cpu(n)})  exit {proc.returncode}  {summary}")
        recipe = work / "big.toml"
        recipe.write_text(
            f'[model]\nid = "{model}"\n[identity]\nname = "Swift-Robot"\nauthor = "CSDN"\n'
            f'[data]\ndatasets = ["{big}"]\n[train]\npreset = "cpu"\noutput_dir = "out"\n',
            encoding="utf-8",
        )
        t, proc = median_time([*SWIFTKIT, "validate", str(recipe)], n)
        print(
            f"   {t:.2f} s  ({cpu(n)})  exit {proc.returncode}  as a recipe with the tiny model "
            "(placeholders filled, lengths checked with its tokenizer.json, duplicates, count)"
        )

        recipe.write_text(
            recipe.read_text(encoding="utf-8").replace(
                'preset = "cpu"', 'preset = "cpu"\nmax_length = 128'
            ),
            encoding="utf-8",
        )
        t, proc = median_time([*SWIFTKIT, "validate", str(recipe)], n)
        print(
            f"   {t:.2f} s  ({cpu(n)})  exit {proc.returncode}  the same with max_length = 128: "
            "every record tokenized (over 128 bytes, so the byte bound does not decide)"
        )

        # 4. start-up
        t, _ = median_time([*SWIFTKIT, "--help"], args.repeat)
        c = cpu(args.repeat)
        t0, _ = median_time([sys.executable, "-c", "pass"], args.repeat)
        print(
            f"\n4. swiftkit --help start-up: {t:.2f} s ({c}); a bare `python -c pass`: {t0:.2f} s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
