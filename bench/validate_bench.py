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

    python bench/validate_bench.py --big [--size-mb 200] [--code CHECKOUT]

measures instead `swiftkit validate` on a generated JSON Lines file of --size-mb MB, once with
every record good and once with every record bad, under /usr/bin/time -v: wall seconds, CPU
seconds (user + sys) and the largest resident memory. --code runs another checkout's swiftkit
(e.g. the main branch, for a before/after). Target (issue 13): 200 MB in under 10 s and 500 MB.
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


def time_v(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, str]:
    """Wall, CPU and max RSS of a child from GNU time's -v report."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *argv], env=env, cwd=cwd, capture_output=True, text=True
    )
    report = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition(": ") for line in proc.stderr.splitlines())
        if v
    )
    wall = report.get("Elapsed (wall clock) time (h:mm:ss or m:ss)", "0:0")
    seconds = sum(float(x) * 60**i for i, x in enumerate(reversed(wall.split(":"))))
    cpu_s = float(report.get("User time (seconds)", 0)) + float(
        report.get("System time (seconds)", 0)
    )
    rss = int(report.get("Maximum resident set size (kbytes)", 0)) // 1024
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
    return {"wall": f"{seconds:.1f} s", "cpu": f"{cpu_s:.1f} s", "rss": f"{rss} MB", "out": last}


def big_file(size_mb: int, code: Path, kinds: tuple[str, ...] = ("good", "bad")) -> int:
    """--big: a large JSON Lines file, all good and all bad, streamed by validate."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    work = Path(tempfile.mkdtemp(prefix="swiftkit-big-"))
    try:
        for kind in kinds:
            path = work / f"{kind}.jsonl"
            with path.open("w", encoding="utf-8") as fh:
                i = 0
                while fh.tell() < size_mb * 1_000_000:
                    rec = {"instruction": f"第{i}个问题:你是谁?请介绍一下你自己。", "input": ""}
                    if kind == "good":
                        rec["output"] = (
                            f"我是{{{{NAME}}}},由{{{{AUTHOR}}}}开发的AI助手。第{i}个回答。"
                        )
                    else:
                        rec["ouput"] = (
                            f"我是{{{{NAME}}}}。第{i}个回答。"  # a typo: every record bad
                        )
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    i += 1
            size = path.stat().st_size / 1e6
            r = time_v([sys.executable, "-m", "swiftkit", "validate", str(path)], env, code)
            print(
                f"{kind:4} {size:.0f} MB, {i:,} records: wall {r['wall']}, cpu {r['cpu']}, "
                f"max RSS {r['rss']}  [{r['out']}]"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="tiny model folder (built when absent)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--big", action="store_true", help="only the large-file measurement")
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--code", type=Path, default=ROOT, help="the checkout whose swiftkit runs")
    args = ap.parse_args()
    if args.big:
        return big_file(args.size_mb, args.code.resolve())
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
