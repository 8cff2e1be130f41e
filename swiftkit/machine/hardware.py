"""The machine: its GPUs from `nvidia-smi` (never torch), what CUDA_VISIBLE_DEVICES leaves
visible, and the precision the oldest card supports. The memory a run needs is estimate.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache

QUERY = ["--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"]


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_mib: int
    compute_cap: float | None  # None when the driver is too old to report it

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024

    @property
    def bf16(self) -> bool:
        """bfloat16 needs Ampere (compute capability 8.0) or newer."""
        return self.compute_cap is not None and self.compute_cap >= 8.0


@dataclass
class Machine:
    gpus: list[Gpu] = field(default_factory=list)
    cuda: str | None = None  # the driver's CUDA version, from nvidia-smi's banner
    driver: str | None = None
    problem: str | None = None  # why detection failed, when nvidia-smi exists but fails
    # GPU-/MIG- UUID -> the card (a MIG slice with its own memory), from `nvidia-smi -L`;
    # asked only when CUDA_VISIBLE_DEVICES names devices by UUID, as schedulers often do.
    uuids: dict[str, Gpu] = field(default_factory=dict)

    @property
    def visible(self) -> list[Gpu]:
        """The GPUs a child process will see, after CUDA_VISIBLE_DEVICES in our environment:
        indexes, or UUIDs (GPU-..., MIG-...; a unique prefix is enough, as for CUDA)."""
        spec = os.environ.get("CUDA_VISIBLE_DEVICES")
        if spec is None:
            return list(self.gpus)
        wanted = [s.strip() for s in spec.split(",") if s.strip()]
        by_index = {str(g.index): g for g in self.gpus}
        out = []
        for w in wanted:
            found = [g for u, g in self.uuids.items() if u.startswith(w)]
            if w in by_index or (w.startswith(UUID_PREFIXES) and len(found) == 1):
                out.append(by_index.get(w) or found[0])
        return out


UUID_PREFIXES = ("GPU-", "MIG-")
LIST_GPU = re.compile(r"^GPU (\d+): .*\(UUID: (GPU-[^)\s]+)\)")
LIST_MIG = re.compile(r"^\s+MIG (\S+)\s+Device\s+\d+: \(UUID: (MIG-[^)\s]+)\)")


def parse_list(text: str, gpus: list[Gpu]) -> dict[str, Gpu]:
    """`nvidia-smi -L` -> UUID -> Gpu. A MIG slice is its card with the slice's memory, read
    from its profile name (`3g.40gb` -> 40 GB); lines that do not parse are skipped."""
    by_index = {g.index: g for g in gpus}
    out: dict[str, Gpu] = {}
    card: Gpu | None = None
    for line in text.splitlines():
        if m := LIST_GPU.match(line):
            card = by_index.get(int(m.group(1)))
            if card is not None:
                out[m.group(2)] = card
            continue
        if (m := LIST_MIG.match(line)) and card is not None:
            size = re.search(r"(\d+)gb", m.group(1))
            mem = int(size.group(1)) * 10**9 // 2**20 if size else card.memory_mib  # nominal GB
            name = f"{card.name} MIG {m.group(1)}"
            out[m.group(2)] = Gpu(card.index, name, mem, card.compute_cap)
    return out


def _num(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None  # "[N/A]", "[Not Supported]"


def parse_gpus(text: str) -> list[Gpu]:
    """Lines of `name, memory.total, compute_cap` (or without compute_cap, older drivers).
    Names may contain commas, so fields are taken from the right; junk lines are skipped."""
    gpus: list[Gpu] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or "," not in line:
            continue
        parts = [p.strip() for p in line.split(",")]
        n = 2 if len(parts) >= 3 and re.fullmatch(r"\d+(\.\d+)?|\[.*\]", parts[-1]) else 1
        name, mem, cap = ", ".join(parts[:-n]), _num(parts[-n]), _num(parts[-1]) if n == 2 else None
        if mem is None or not name:
            continue
        gpus.append(Gpu(len(gpus), name, int(mem), cap))
    return gpus


def _smi(args: list[str], exe: str) -> subprocess.CompletedProcess:
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=10)


@lru_cache(maxsize=1)
def detect() -> Machine:
    """Ask nvidia-smi (once per process); no nvidia-smi means no GPU."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return Machine()
    try:
        proc = _smi(QUERY, exe)
        if proc.returncode != 0 and "compute_cap" in (proc.stdout + proc.stderr):
            proc = _smi([QUERY[0].replace(",compute_cap", ""), QUERY[1]], exe)
        if proc.returncode != 0:
            msg = (proc.stderr or proc.stdout).strip().splitlines()
            return Machine(problem=f"nvidia-smi failed: {msg[-1] if msg else proc.returncode}")
        machine = Machine(gpus=parse_gpus(proc.stdout))
        banner = _smi([], exe).stdout
        named = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        if any(w.strip().startswith(UUID_PREFIXES) for w in named.split(",")):
            machine.uuids = parse_list(_smi(["-L"], exe).stdout, machine.gpus)
    except (OSError, subprocess.SubprocessError) as exc:
        return Machine(problem=f"nvidia-smi failed: {exc}")
    cuda, driver = (re.search(rf"{k} Version:\s*([\d.]+)", banner) for k in ("CUDA", "Driver"))
    machine.cuda, machine.driver = cuda and cuda.group(1), driver and driver.group(1)
    return machine


def dtype_for(gpus: list[Gpu]) -> str:
    """bf16 when every GPU has compute capability >= 8.0, fp16 when one is older. With no
    GPU the recipe is rendered for its target card, the blog's bf16."""
    if gpus and not all(g.bf16 for g in gpus):
        return "float16"
    return "bfloat16"


def ram_gib() -> float:
    import psutil  # type: ignore[import-untyped]

    return psutil.virtual_memory().total / 2**30
