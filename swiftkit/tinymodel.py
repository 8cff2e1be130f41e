"""A tiny random-weight Qwen2 with a small byte-level BPE tokenizer: the whole flow (train,
infer, merge, serve) on a CPU in seconds with the real ms-swift and no download. Runs in a CHILD
process (`python -m swiftkit.tinymodel DIR`): it imports torch and transformers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from swiftkit.resources import QWEN25_CHAT_TEMPLATE

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Qwen2.5-7B-Instruct's own chat template, byte for byte (tools branch and default system prompt
# "You are Qwen, created by Alibaba Cloud. You are a helpful assistant." included), so a merged
# tiny model meets the real pitfall: a client that sends no system message gets Qwen's.
CHAT_TEMPLATE = QWEN25_CHAT_TEMPLATE.read_text(encoding="utf-8")

# Small enough to train in seconds on 2 CPU cores, large enough to memorise a few dozen answers.
TINY_CONFIG: dict[str, int | float] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    # A larger init than 0.02: the tied embedding is also the output head, and LoRA cannot
    # grow it, so small norms cap the logits and the loss plateaus near log(vocab).
    "initializer_range": 0.1,
}
VOCAB_SIZE = 1200
SEED = 1234

# `[model] build = NAME` shapes (config.json values over TINY_CONFIG). "tiny", the tests' model,
# learns one identity answer but not init's 79 with LoRA r8 (measured); "tiny-128x4" (0.75 M
# weights, not 0.15 M), init's model without a GPU, passes the strict check in ~170 steps.
SHAPES: dict[str, dict] = {
    "tiny": {},
    "tiny-128x4": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4},
}

# The identity texts the tokenizer is trained on (common Chinese words get merges; byte-level
# BPE still encodes any other text).
CORPUS = Path(__file__).resolve().parent / "data" / "tiny_corpus.txt"


def build(out_dir: Path, shape: dict | None = None) -> None:
    """The tiny model, or a random-weight Qwen2 of `shape` (config.json values) with the same
    tokenizer; a larger vocab_size leaves rows unused, as Qwen's own configs do."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.read_text(encoding="utf-8").splitlines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = int(TINY_CONFIG["max_position_embeddings"])
    fast.save_pretrained(out_dir)

    torch.manual_seed(SEED)
    # float32 (torch's default); save_pretrained writes the dtype into config.json
    fields: dict = {"vocab_size": len(fast), "tie_word_embeddings": True, **TINY_CONFIG}
    fields.update(shape or {})
    if fields["vocab_size"] < len(fast):
        raise ValueError(f"vocab_size {fields['vocab_size']} < the tokenizer's {len(fast)}")
    dtype = str(fields.pop("torch_dtype", "float32"))
    end, pad = fast.get_vocab()["<|im_end|>"], fast.get_vocab()["<|endoftext|>"]
    config = Qwen2Config(bos_token_id=pad, eos_token_id=end, pad_token_id=pad, **fields)
    # A 7B shape is built on the GPU when there is one (random init of 7.6 B values on a CPU
    # takes minutes); the tiny one on the CPU, where its seed gives the same weights anywhere.
    device = "cuda" if shape and torch.cuda.is_available() else "cpu"
    with torch.device(device):
        # created in `dtype` (a 7B bf16 model would not fit a 24 GB card as float32 first)
        model = Qwen2ForCausalLM._from_config(config, dtype=getattr(torch, dtype))
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    record = {"built_by": "swiftkit tiny-model", "seed": SEED, **TINY_CONFIG, **(shape or {})}
    (out_dir / "swiftkit-tiny.json").write_text(json.dumps(record, indent=2) + "\n", "utf-8")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print(
            f"usage: python -m swiftkit.tinymodel OUT_DIR [SHAPE.json | {' | '.join(SHAPES)}]",
            file=sys.stderr,
        )
        return 2
    shape = SHAPES.get(args[-1]) if len(args) == 2 else None  # a named shape
    if len(args) == 2 and shape is None:  # config.json values; keys starting with "_" are comments
        spec = json.loads(Path(args[1]).read_text(encoding="utf-8"))
        shape = {k: v for k, v in spec.items() if not k.startswith("_")}
    build(Path(args[0]), shape or None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
