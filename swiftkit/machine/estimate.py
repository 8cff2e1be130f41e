"""A LoRA run's peak memory per GPU, from the model's shape alone.

The estimate is arithmetic on the model's shape (config.json, or a table of known hub ids), so
it answers in microseconds on a laptop without the model. It is a worst case: every sequence
padded to `max_length`. The formula is documented in the README ("Presets and hardware").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swiftkit import jsonl
from swiftkit.msswift import sftflags
from swiftkit.resources import table

GIB = 1024**3
# CUDA context, cuBLAS workspaces and allocator slack: a fixed allowance, not a measurement.
OVERHEAD_GIB = 1.0
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
UNSET_LENGTH = 2048  # tokens per sequence when max_length is unset (ms-swift: the model's context)


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
        keys = "hidden_size num_hidden_layers intermediate_size num_attention_heads vocab_size"
        h, layers, i, heads, vocab = (int(cfg[k]) for k in keys.split())
        kv_heads = int(cfg.get("num_key_value_heads") or heads)
        return cls(h, layers, i, heads, kv_heads, vocab, bool(cfg.get("tie_word_embeddings")))

    @property
    def kv(self) -> int:
        return self.kv_heads * (self.hidden // self.heads)

    def linears(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer in one decoder block."""
        h, i, kv = self.hidden, self.intermediate, self.kv
        names = "q_proj k_proj v_proj o_proj gate_proj up_proj down_proj".split()
        sizes = [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]
        return dict(zip(names, sizes, strict=True))

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
    if model_path is not None and (model_path / "config.json").is_file():
        try:
            return Shape.from_config(jsonl.json_object(model_path / "config.json") or {})
        except (ValueError, KeyError, TypeError):
            return None
    row = table("model_shapes.json").get(model_id.lower().rstrip("/"))
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
    device: str = "cuda"

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
            f"CUDA/alloc   {self.overhead:6.1f} GiB  (fixed allowance)"
            if self.device == "cuda"
            else f"baseline     {self.overhead:6.1f} GiB  (Python, torch, ms-swift imported; "
            "measured)",
            f"total        {self.total:6.1f} GiB  (estimated worst case, every sequence at "
            "max_length)",
        ]


def _targets(shape: Shape, target_modules: object) -> list[str]:
    """The linear layers LoRA wraps: those named, else all ("all-linear", unset, unknown)."""
    names = list(shape.linears())
    wanted = [target_modules] if isinstance(target_modules, str) else target_modules
    return [n for n in names if isinstance(wanted, list | tuple) and n in wanted] or names


def estimate(
    shape: Shape,
    *,
    torch_dtype: str | None = None,
    quant_bits: int | None = None,
    lora_rank: int | None = None,
    target_modules: object = None,
    lora_dropout: float | None = None,
    batch: int | None = None,
    max_length: int | None = None,
    gradient_checkpointing: bool | None = None,
    zero3_shards: int = 1,
    overhead_gib: float = OVERHEAD_GIB,
    device: str = "cuda",
) -> Estimate:
    """Peak memory of one training process (see README, "Presets and hardware"). A setting
    not given is ms-swift's default (max_length: UNSET_LENGTH)."""
    default = sftflags.default
    torch_dtype = torch_dtype or default("torch_dtype")
    lora_rank = lora_rank or default("lora_rank")
    target_modules = target_modules or default("target_modules")
    lora_dropout = default("lora_dropout") if lora_dropout is None else lora_dropout
    batch = max(1, batch or default("per_device_train_batch_size"))
    max_length = max_length or default("max_length") or UNSET_LENGTH
    if gradient_checkpointing is None:
        gradient_checkpointing = bool(default("gradient_checkpointing"))
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
    # with gradient checkpointing each layer keeps only its input; one layer at a time is
    # recomputed in full
    kept = shape.layers * h + per_layer if gradient_checkpointing else shape.layers * per_layer
    act = kept * b * tokens
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
        device=device,
    )
