"""Peak memory of the phases other than training (verify/chat/serve with the transformers
backend, export --merge), term by term: the GPU rehearsal's arithmetic, set against what it
measures. Training's estimate is swiftkit.machine.estimate (the package uses only that one)."""

from __future__ import annotations

from dataclasses import dataclass

from swiftkit.machine.estimate import DTYPE_BYTES, GIB, OVERHEAD_GIB, Shape


@dataclass
class Phase:
    """Peak memory of a phase other than training, in GiB, term by term."""

    name: str
    device: str
    terms: list[tuple[str, float, str]]

    @property
    def total(self) -> float:
        return sum(gib for _, gib, _ in self.terms)

    def lines(self) -> list[str]:
        out = [f"{label:<12} {gib:6.1f} GiB  ({note})" for label, gib, note in self.terms]
        return out + [
            f"total        {self.total:6.1f} GiB  ({self.name}, {self.device}, estimated)"
        ]


def _allowance(device: str, overhead_gib: float | None) -> tuple[str, float, str]:
    if device == "cuda":
        gib = OVERHEAD_GIB if overhead_gib is None else overhead_gib
        return ("CUDA/alloc", gib, "fixed allowance")
    return ("baseline", overhead_gib or 0.0, "Python, torch, ms-swift imported; measured")


def inference(
    shape: Shape,
    *,
    torch_dtype: str = "bfloat16",
    device: str = "cuda",
    tokens: int = 2048,
    batch: int = 1,
    overhead_gib: float | None = None,
) -> Phase:
    """verify / compare / chat / serve with the transformers backend: one model copy (the
    adapter on top, unmerged: a few MB) and the KV cache of `batch` sequences of `tokens`."""
    b = DTYPE_BYTES.get(str(torch_dtype), 2)
    kv_cache = 2 * shape.layers * shape.kv * b * tokens * batch
    return Phase(
        "inference",
        device,
        [
            ("weights", shape.params * b / GIB, f"{shape.params / 1e9:.2f} B parameters, one copy"),
            ("KV cache", kv_cache / GIB, f"{batch} x {tokens} tokens, K and V of every layer"),
            _allowance(device, overhead_gib),
        ],
    )


# `swift export --merge_lora` saves through save_pretrained with max_shard_size "5GB";
# safetensors serialises a whole shard into host memory before writing it.
SHARD_BYTES = 5 * 10**9


def merge(
    shape: Shape,
    *,
    torch_dtype: str = "bfloat16",
    device: str = "cuda",
    overhead_gib: float | None = None,
) -> Phase:
    """export --merge: the base model in `torch_dtype` on `device`, the LoRA folded into it in
    place; saving copies one shard at a time to host memory. On a GPU the card holds the
    weights and the host the shard; on a CPU both are host memory."""
    b = DTYPE_BYTES.get(str(torch_dtype), 2)
    weights = shape.params * b
    shard = min(weights, SHARD_BYTES)
    terms = [("weights", weights / GIB, f"{shape.params / 1e9:.2f} B parameters, merged in place")]
    if device != "cuda":
        terms.append(("save shard", shard / GIB, "one safetensors shard serialised (<= 5 GB)"))
    terms.append(_allowance(device, overhead_gib))
    return Phase("merge", device, terms)
