"""The machine (GPUs from `nvidia-smi`, never torch) and a peak-memory estimate for a LoRA run.

The estimate is arithmetic on the model's shape (config.json, or a table of known hub ids), so
it answers in microseconds on a laptop without the model. It is a worst case: every sequence
padded to `max_length`. The formula is documented in the README ("Presets and hardware").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from swiftkit.resources import DATA

GIB = 1024**3
QUERY = ["--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"]
_SHAPES = DATA / "model_shapes.json"
# CUDA context, cuBLAS workspaces and allocator slack: a fixed allowance, not a measurement.
OVERHEAD_GIB = 1.0
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


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

    @property
    def visible(self) -> list[Gpu]:
        """The GPUs a child process will see, after CUDA_VISIBLE_DEVICES in our environment."""
        spec = os.environ.get("CUDA_VISIBLE_DEVICES")
        if spec is None:
            return list(self.gpus)
        wanted = [s.strip() for s in spec.split(",") if s.strip()]
        by_index = {str(g.index): g for g in self.gpus}
        return [by_index[w] for w in wanted if w in by_index]


def _num(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None  # "[N/A]", "[Not Supported]"


def parse_gpus(text: str) -> list[Gpu]:
    """Lines of `name, memory.total, compute_cap` (or without compute_cap, older drivers).

    Names may contain commas, so fields are taken from the right; junk lines are skipped.
    """
    gpus: list[Gpu] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or "," not in line:
            continue
        parts = [p.strip() for p in line.split(",")]
        cap = None
        if len(parts) >= 3 and re.fullmatch(r"\d+(\.\d+)?|\[.*\]", parts[-1]):
            mem, cap = _num(parts[-2]), _num(parts[-1])
            name = ", ".join(parts[:-2])
        else:
            mem = _num(parts[-1])
            name = ", ".join(parts[:-1])
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
    except (OSError, subprocess.SubprocessError) as exc:
        return Machine(problem=f"nvidia-smi failed: {exc}")
    m = re.search(r"CUDA Version:\s*([\d.]+)", banner)
    machine.cuda = m.group(1) if m else None
    m = re.search(r"Driver Version:\s*([\d.]+)", banner)
    machine.driver = m.group(1) if m else None
    return machine


def dtype_for(gpus: list[Gpu]) -> str:
    """bf16 when every GPU has compute capability >= 8.0, fp16 when one is older.

    With no GPU the recipe is rendered for its target card, the blog's bf16.
    """
    if gpus and not all(g.bf16 for g in gpus):
        return "float16"
    return "bfloat16"


# --- the memory estimate -------------------------------------------------------------------


@cache
def _known_shapes() -> dict:
    return json.loads(_SHAPES.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Shape:
    """The config.json fields the estimate needs (a decoder-only, Qwen2/Llama-style model)."""

    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool

    @classmethod
    def from_config(cls, cfg: dict) -> Shape:
        return cls(
            hidden=int(cfg["hidden_size"]),
            layers=int(cfg["num_hidden_layers"]),
            intermediate=int(cfg["intermediate_size"]),
            heads=int(cfg["num_attention_heads"]),
            kv_heads=int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]),
            vocab=int(cfg["vocab_size"]),
            tied=bool(cfg.get("tie_word_embeddings", False)),
        )

    @property
    def kv(self) -> int:
        return self.kv_heads * (self.hidden // self.heads)

    def linears(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer in one decoder block."""
        h, i, kv = self.hidden, self.intermediate, self.kv
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def embedding_params(self) -> int:
        """Input embedding plus the output head (once when tied)."""
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def params(self) -> int:
        h = self.hidden
        per_layer = sum(a * b for a, b in self.linears().values())
        per_layer += h + 2 * self.kv  # q, k, v biases (Qwen2)
        per_layer += 2 * h  # two RMSNorms
        return self.layers * per_layer + self.embedding_params + h


def shape_of(model_id: str, model_path: Path | None) -> Shape | None:
    """From the local config.json, else the table of known hub ids, else None."""
    if model_path is not None:
        cfg = model_path / "config.json"
        if cfg.is_file():
            try:
                return Shape.from_config(json.loads(cfg.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                return None
    row = _known_shapes().get(model_id.lower().rstrip("/"))
    return Shape.from_config(row) if row else None


@dataclass
class Estimate:
    """Peak training memory per GPU, in GiB, term by term."""

    weights: float
    lora: float
    activations: float
    logits: float
    overhead: float
    lora_params: int
    params: int
    tokens: int

    @property
    def total(self) -> float:
        return self.weights + self.lora + self.activations + self.logits + self.overhead

    def lines(self) -> list[str]:
        return [
            f"weights      {self.weights:6.1f} GiB  ({self.params / 1e9:.2f} B parameters)",
            f"LoRA + Adam  {self.lora:6.1f} GiB  ({self.lora_params / 1e6:.1f} M trainable, "
            "16 bytes each)",
            f"activations  {self.activations:6.1f} GiB  ({self.tokens} tokens per step per GPU)",
            f"logits/loss  {self.logits:6.1f} GiB",
            f"CUDA/alloc   {self.overhead:6.1f} GiB  (fixed allowance)",
            f"total        {self.total:6.1f} GiB  (estimated worst case, every sequence at "
            "max_length)",
        ]


def _targets(shape: Shape, target_modules: object) -> list[str]:
    names = list(shape.linears())
    if target_modules in (None, "all-linear", ["all-linear"]):
        return names
    wanted = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    return [n for n in names if n in wanted] or names


def estimate(
    shape: Shape,
    *,
    torch_dtype: str = "bfloat16",
    quant_bits: int | None = None,
    lora_rank: int = 8,
    target_modules: object = "all-linear",
    lora_dropout: float = 0.05,
    batch: int = 1,
    max_length: int = 2048,
    gradient_checkpointing: bool = True,
    zero3_shards: int = 1,
    overhead_gib: float = OVERHEAD_GIB,
) -> Estimate:
    """Peak memory of one training process (see README, "Presets and hardware")."""
    b = DTYPE_BYTES.get(str(torch_dtype), 2)
    emb = shape.embedding_params
    body = shape.params - emb
    if quant_bits:
        # bnb quantizes the decoder's linear layers; embeddings and the head stay in 16 bit.
        # Double-quantized 4-bit costs ~4.127 bits per weight (absmax constants included).
        per = (quant_bits + 0.127) / 8 if quant_bits == 4 else quant_bits / 8
        weights = body * per + emb * b
    else:
        weights = shape.params * b
    weights /= max(1, zero3_shards)
    targets = _targets(shape, target_modules)
    lin = shape.linears()
    lora_params = shape.layers * sum(lora_rank * (lin[t][0] + lin[t][1]) for t in targets)
    lora = lora_params * 16  # fp32 weight + fp32 grad + Adam m and v
    tokens = batch * max_length
    h, i, kv = shape.hidden, shape.intermediate, shape.kv
    # Tensors one decoder layer keeps for backward, per token, in units of the activation
    # dtype: attention inputs/outputs (Q, K, V, context; flash/SDPA keeps no s x s scores),
    # the SwiGLU MLP (gate, up, silu, product), two norms; plus a dropout copy of each LoRA
    # layer's input when lora_dropout > 0.
    per_layer = 5 * h + 2 * kv + 4 * i
    if lora_dropout and lora_dropout > 0:
        per_layer += sum(lin[t][0] for t in targets)
    if gradient_checkpointing:
        # each layer keeps only its input; one layer at a time is recomputed in full
        act = (shape.layers * h + per_layer) * b * tokens
    else:
        act = shape.layers * per_layer * b * tokens
    # logits in the model dtype, their fp32 copy for the loss, and its fp32 gradient
    logits = tokens * shape.vocab * (b + 4 + 4)
    return Estimate(
        weights=weights / GIB,
        lora=lora / GIB,
        activations=act / GIB,
        logits=logits / GIB,
        overhead=overhead_gib,
        lora_params=lora_params,
        params=shape.params,
        tokens=tokens,
    )
