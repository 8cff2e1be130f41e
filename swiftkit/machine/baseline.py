"""What a CPU training run holds before its first tensor: Python, torch, transformers and
ms-swift imported, in the `swift` launcher and the trainer it starts. On a CPU this stands
where the CUDA context stands in the GPU estimate.

Measured once by the smallest real run: `swift sft` LoRA, one step of 32 tokens on swiftkit's
tiny model (0.2 M parameters), its peak (`sample_peak`) less that run's own estimated tensors
(about 1 MiB). A child that only imports torch and ms-swift holds ~80 MiB less than a run
does: the dataset pipeline, the tokenizer, the trainer and the allocator's arenas are there
in every run whatever the model. Cached with the versions it was measured on. The swiftkit
parent imports none of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from swiftkit import resources
from swiftkit.msswift import compat, sft

MIB = 1024**2
# Measured here (ms-swift 4.6, torch 2.13 CPU, transformers 5.19, Python 3.11) by `measured()`;
# used until a measurement for the installed versions is cached.
DEFAULT_MIB = 787.0
METHOD = 3  # how it is measured: a cache from another method is measured again
PACKAGES = ("ms-swift", "torch", "transformers", "peft")
WORDS = "alpha beta gamma delta memory swift robot token layer model".split()


@dataclass(frozen=True)
class Baseline:
    mib: float
    versions: str
    measured: bool  # False: the shipped default, not measured for these versions


def versions() -> str:
    """The version set a measurement holds for, read from package metadata (no import)."""
    parts = [f"method {METHOD}", f"python {platform.python_version()}"]
    parts += [f"{p} {compat.installed_version(p) or '-'}" for p in PACKAGES]
    return ", ".join(parts)


def cache_file() -> Path:
    return resources.user_folder("cache") / "cpu-baseline.json"


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


def write_dataset(path: Path, records: int, max_length: int) -> None:
    """Records whose answers are longer than max_length tokens (the tiny byte-level tokenizer
    gives at least one token per word), so truncation makes each exactly max_length."""
    rnd = random.Random(0)
    with path.open("w", encoding="utf-8") as f:
        for _ in range(records):
            text = " ".join(f"{rnd.choice(WORDS)}{rnd.randint(0, 999)}" for _ in range(max_length))
            ask = {"role": "user", "content": "Tell me a story."}
            f.write(json.dumps({"messages": [ask, {"role": "assistant", "content": text}]}) + "\n")


def measured(refresh: bool = False) -> Baseline:
    """The cached measurement, or measure now (~20 s of CPU: build the tiny model, one
    training step) and cache it."""
    from swiftkit.machine.estimate import Shape, estimate

    have = cached()
    if have.measured and not refresh:
        return have
    with tempfile.TemporaryDirectory(prefix="swiftkit-baseline-") as tmp:
        where = Path(tmp)
        tiny = [sys.executable, "-m", "swiftkit.tinymodel", str(where / "m")]
        subprocess.run(
            tiny, cwd=Path(__file__).resolve().parents[2], check=True, capture_output=True
        )
        write_dataset(where / "d.jsonl", 1, 32)
        cmd = sft.memory_probe(where / "m", where / "d.jsonl", where / "o", 1, 32, True, 1)
        proc = subprocess.Popen(cmd.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = sample_peak(proc)
        cfg = json.loads((where / "m" / "config.json").read_text(encoding="utf-8"))
    if proc.returncode != 0:
        return have
    own = estimate(Shape.from_config(cfg), torch_dtype="float32", max_length=32, device="cpu")
    found = Baseline(round(peak / MIB - (own.total - own.overhead) * 1024, 1), have.versions, True)
    try:
        path = cache_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"mib": found.mib, "versions": found.versions}) + "\n", "utf-8")
    except OSError:
        pass  # a read-only home: measured again next time
    return found


def _each(pid: int) -> list[tuple[int, int, int, int]]:
    """(RSS, USS, pid, parent pid) of pid and its descendants, largest RSS first."""
    import psutil  # type: ignore[import-untyped]  # (psutil's USS: no /proc parsing by hand)

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    out = []
    for p in procs:
        with contextlib.suppress(psutil.Error):  # a process that ended since the listing
            m = p.memory_full_info()
            out.append((m.rss, m.uss, p.pid, p.ppid()))
    return sorted(out, reverse=True)


def tree_now(pid: int) -> tuple[int, int]:
    """The tree's memory now, in bytes: (the largest process's RSS plus the private pages
    (USS) of the others, the USS of the largest one's ancestors alone). The others share
    torch's libraries and copy-on-write pages with the largest, so a sum of RSS would count
    those twice; a sum of PSS moves with every unrelated process that maps the same
    libraries. The ancestors (`swiftkit`, the `swift` launcher) wait for the trainer and live
    as long as it does; forks of the trainer come and go."""
    each = _each(pid)
    if not each:
        return 0, 0
    parent = {p: pp for _, _, p, pp in each}
    uss = {p: u for _, u, p, _ in each}
    ancestors, at = 0, each[0][3]
    while at in parent:
        ancestors += uss[at]
        at = parent[at] if at != pid else -1
    return each[0][0] + sum(u for _, u, _, _ in each[1:]), ancestors


def sample_peak(proc: subprocess.Popen, every: float = 0.02) -> int:
    """Wait for `proc`; its tree's peak memory in bytes: the larger of (a) the largest
    process's peak RSS (the kernel's high-water mark from wait4: exact, where sampling misses
    peaks that last milliseconds, like the loss's vocabulary-wide tensors) plus its
    ancestors' private pages, and (b) the largest sampled `tree_now` (forks included). The
    exit status lands in proc.returncode."""
    sampled = ancestors = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            # ru_maxrss (KiB): the max over the process and its waited-for descendants
            return max(usage.ru_maxrss * 1024 + ancestors, sampled)
        now, up = tree_now(proc.pid)
        sampled, ancestors = max(sampled, now), max(ancestors, up)
        time.sleep(every)
