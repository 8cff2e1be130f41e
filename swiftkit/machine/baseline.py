"""What a CPU training run holds before its first tensor: Python, torch, transformers and
ms-swift imported, in the `swift` launcher and the trainer it starts. On a CPU this stands
where the CUDA context stands in the GPU estimate.

Measured once by a child pair shaped like `swift sft` (a launcher that imports swift's CLI and
starts a trainer that imports `swift.pipelines.sft_main`), sampled with `sample_peak`, and
cached with the versions it was measured on. The swiftkit parent imports none of them.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from swiftkit.msswift import compat

MIB = 1024**2
# Measured here (ms-swift 4.6, torch 2.13 CPU, transformers 5.19, Python 3.11) by `measured()`;
# used until a measurement for the installed versions is cached.
DEFAULT_MIB = 820.0
PACKAGES = ("ms-swift", "torch", "transformers", "peft")
TRAINER = (
    "from swift.pipelines import sft_main; import peft, transformers; "
    "from transformers import Qwen2ForCausalLM; import time; time.sleep(0.3)"
)
LAUNCHER = (
    "import subprocess, sys; import swift.cli.main; "
    f"sys.exit(subprocess.run([sys.executable, '-c', {TRAINER!r}]).returncode)"
)


@dataclass(frozen=True)
class Baseline:
    mib: float
    versions: str
    measured: bool  # False: the shipped default, not measured for these versions


def versions() -> str:
    """The version set a measurement holds for, read from package metadata (no import)."""
    parts = [f"python {platform.python_version()}"]
    parts += [f"{p} {compat.installed_version(p) or '-'}" for p in PACKAGES]
    return ", ".join(parts)


def cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "swiftkit" / "cpu-baseline.json"


def cached() -> Baseline:
    """The cached measurement for the installed versions, else the shipped default."""
    want = versions()
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
        if data.get("versions") == want:
            return Baseline(float(data["mib"]), want, True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return Baseline(DEFAULT_MIB, want, False)


def measured(refresh: bool = False) -> Baseline:
    """The cached measurement, or measure now (a few seconds of CPU) and cache it."""
    have = cached()
    if have.measured and not refresh:
        return have
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = sample_peak(proc)
    if proc.returncode != 0:
        return have
    found = Baseline(round(peak / MIB, 1), have.versions, True)
    try:
        cache_file().parent.mkdir(parents=True, exist_ok=True)
        cache_file().write_text(
            json.dumps({"mib": found.mib, "versions": found.versions}) + "\n", encoding="utf-8"
        )
    except OSError:
        pass  # a read-only home: measured again next time
    return found


def _tree(pid: int) -> list[int]:
    """pid and its descendants, from /proc/PID/task/*/children (psutil's fallback)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _rss_uss(pid: int) -> tuple[int, int]:
    """(RSS, USS) in bytes from /proc/PID/smaps_rollup (psutil's fallback)."""
    got = {"Rss:": 0, "Private_Clean:": 0, "Private_Dirty:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(" ")
                if key in got:
                    got[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return got["Rss:"], got["Private_Clean:"] + got["Private_Dirty:"]


def _each(pid: int) -> list[tuple[int, int]]:
    try:
        import psutil
    except ImportError:  # psutil comes with ms-swift; /proc is the fallback without it
        return [_rss_uss(p) for p in _tree(pid)]
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    out = []
    for p in procs:
        try:
            m = p.memory_full_info()
            out.append((m.rss, m.uss))
        except psutil.Error:
            pass
    return out


def others_memory(pid: int) -> int:
    """The private pages (USS), in bytes, of every process in the tree but the largest: the
    `swift` launcher beside the trainer, forks of the trainer. They share torch's libraries
    and copy-on-write pages with the largest, so their RSS would count those twice."""
    each = sorted(_each(pid), reverse=True)
    return sum(uss for _, uss in each[1:])


def sample_peak(proc: subprocess.Popen, every: float = 0.02) -> int:
    """Wait for `proc`; its tree's peak memory in bytes: the largest process's peak RSS (the
    kernel's high-water mark, from wait4: exact, where sampling misses peaks that last
    milliseconds, like the loss's vocabulary-wide tensors) plus the largest sampled sum of
    the other processes' private pages. The exit status lands in proc.returncode."""
    others = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            # ru_maxrss (KiB): the max over the process and its waited-for descendants
            return usage.ru_maxrss * 1024 + others
        others = max(others, others_memory(proc.pid))
        time.sleep(every)
