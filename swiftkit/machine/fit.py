"""The recipe on this machine: `bind` settles what only the machine can ("auto" preset,
"auto-by-gpu" dtype) for the plan (`render`, `run`) and `doctor`; `check` says whether it fits
(GPUs, memory, processes, extra packages, the hub), just before launch and in `doctor`.
Every problem is a Finding with the numbers and what to change.
"""

from __future__ import annotations

import os
import socket

from swiftkit.errors import Finding, SwiftkitError, errors_only
from swiftkit.machine import baseline, hardware
from swiftkit.machine.estimate import UNSET_LENGTH, Estimate, estimate, shape_of
from swiftkit.msswift import compat
from swiftkit.msswift.command import shell_line
from swiftkit.recipe import Recipe, presets
from swiftkit.resources import shipped_recipe

OFFLINE_VARS = ("SWIFTKIT_OFFLINE", "MODELSCOPE_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
TOKEN_VAR, MODELSCOPE = "MODELSCOPE_API_TOKEN", "www.modelscope.cn"
CPU_RECIPE = "tiny-cpu.toml"
CPU_MIXED_RECIPE = "tiny-cpu-mixed.toml"  # the offline variant of a mixed-data run


def bind(rec: Recipe, machine: hardware.Machine) -> Recipe:
    gpus = machine.visible
    preset = rec.train.preset or presets.load(auto_preset(gpus))
    merged = {**preset.train, **rec.train.own}
    dtype = hardware.dtype_for(gpus) if merged.get("torch_dtype") == presets.AUTO_BY_GPU else None
    return rec.with_preset(preset, dtype)


def auto_preset(gpus: list[hardware.Gpu]) -> str:
    """The preset `auto` stands for with these visible GPUs: none -> "cpu"; else the GPU
    preset with the largest `min_vram_gb` that the smallest card still has (the smallest GPU
    preset when none fits: the memory check then says what to change)."""
    if not gpus:
        return "cpu"
    memory = min(g.memory_gib for g in gpus)
    gpu_presets = sorted(
        (p.min_vram_gb or 0.0, p.name) for p in presets.all_presets() if p.device == "cuda"
    )
    fitting = [name for need, name in gpu_presets if need <= memory]
    return fitting[-1] if fitting else gpu_presets[0][1]


def estimate_for(rec: Recipe) -> Estimate | None:
    shape = shape_of(rec.model.id, rec.model.path)
    return None if shape is None else estimate(shape, **estimate_args(rec))


def estimate_args(rec: Recipe) -> dict:
    """The estimator's inputs from the merged [train]. On the CPU preset the measured process
    baseline (`baseline.cached()`: Python, torch and ms-swift imported) replaces the CUDA
    allowance."""
    t = rec.train
    device = "cuda" if t.device == "cuda" else "cpu"
    overhead = {} if device == "cuda" else {"overhead_gib": baseline.cached().mib / 1024}
    ds = rec.launch.deepspeed or ""
    quant = t.value("quant_bits")
    dropout = t.value("lora_dropout")
    return dict(
        torch_dtype=str(t.value("torch_dtype")),
        quant_bits=quant if isinstance(quant, int) and not isinstance(quant, bool) else None,
        lora_rank=t.int_value("lora_rank") or None,
        target_modules=t.value("target_modules"),
        lora_dropout=float(dropout) if isinstance(dropout, int | float) else None,
        batch=max(1, t.int_value("per_device_train_batch_size")),
        max_length=t.max_length or UNSET_LENGTH,
        gradient_checkpointing=bool(t.value("gradient_checkpointing")),
        zero3_shards=rec.launch.world_size() if ds.startswith("zero3") else 1,
        device=device,
        **overhead,
    )


def suggestion(rec: Recipe, capacity_gib: float) -> str:
    """The first single change (in order of least effect on the result) that fits."""
    shape = shape_of(rec.model.id, rec.model.path)
    if shape is None:
        return ""
    args = estimate_args(rec)
    base = estimate(shape, **args)
    accum = max(1, rec.train.int_value("gradient_accumulation_steps", 1))
    tries: list[tuple[dict, str]] = []
    if not args["gradient_checkpointing"]:
        tries.append(({"gradient_checkpointing": True}, "set gradient_checkpointing = true"))
    if args["batch"] > 1:
        same = f"gradient_accumulation_steps = {accum * args['batch']} (same effective batch)"
        tries.append(({"batch": 1}, f"set per_device_train_batch_size = 1 and {same}"))
    if not args["quant_bits"]:
        tries.append(({"quant_bits": 4}, 'use preset = "16gb" (4-bit QLoRA)'))
    length = args["max_length"]
    note = "(longer records are truncated; check your longest record first)"
    while length > 256:
        length //= 2
        tries.append(({"max_length": length}, f"set max_length = {length} {note}"))
    for change, text in tries:
        est = estimate(shape, **{**args, **change})
        if est.total <= capacity_gib:
            return f"{text}: estimated {est.total:.1f} GiB"
    return f'a card with at least {base.total:.0f} GiB, or several GPUs with deepspeed = "zero3"'


def gpu_findings(rec: Recipe, machine: hardware.Machine) -> list[Finding]:
    if rec.train.device != "cuda":
        return []
    preset, nproc = rec.train.preset_name, rec.launch.processes_per_node()
    gpus = machine.visible
    est = estimate_for(rec)
    need = f" (estimated peak {est.total:.1f} GiB per GPU)" if est else ""
    if not gpus:
        demo = shipped_recipe(CPU_MIXED_RECIPE if len(rec.data.datasets) > 1 else CPU_RECIPE)
        cpu, ident, init = shell_line("swiftkit", "run", demo), rec.identity, ""
        if ident.name and ident.author:  # the user's identity, not the shipped demo's
            who = ("--name", ident.name, "--author", ident.author, "--preset", "cpu")
            init = shell_line("swiftkit", "init", rec.dir.with_name(rec.dir.name + "-cpu"), *who)
            init = f"`{init}` writes this identity's CPU recipe (then run what it prints); "
        why = machine.problem or "nvidia-smi not found"
        if machine.gpus and os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
            why = f"CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']} hides every GPU"
        return [
            rec.error_at(
                "train.preset",
                f"preset '{preset}' needs an NVIDIA GPU{need}; this machine has none ({why})",
                f"on this machine, the same flow on the tiny CPU model: {init}"
                f"`{cpu}` is the shipped demo; run this recipe on a GPU host "
                "(`swiftkit doctor` shows what a machine has)",
            )
        ]
    out = []
    if nproc > len(gpus):
        env = os.environ.get("NPROC_PER_NODE", "").strip() == str(nproc)
        said = f"NPROC_PER_NODE={nproc} in the environment" if env else f"nproc_per_node = {nproc}"
        out.append(
            rec.error_at(
                "launch.nproc_per_node",
                f"{said} but {len(gpus)} GPU(s) are visible: "
                + ", ".join(f"{g.index}: {g.name}" for g in gpus),
                f"set nproc_per_node = {len(gpus)} (one process per GPU), or unset "
                "CUDA_VISIBLE_DEVICES if it hides cards",
            )
        )
    smallest = min(gpus, key=lambda g: g.memory_mib)
    if est and est.total > smallest.memory_gib:
        # the line of [train] preset, else of [train] (locate falls back to the section)
        out.append(
            Finding.error(
                str(rec.path),
                f"the run will not fit on GPU {smallest.index} ({smallest.name}, "
                f"{smallest.memory_gib:.1f} GiB): estimated peak {est.total:.1f} GiB\n      "
                + "\n      ".join(est.lines()),
                line=rec.line_of("train", "preset"),
                field="train",
                fix=suggestion(rec, smallest.memory_gib) or "use a larger card",
            )
        )
    bnb = rec.train.value("quant_method") == "bnb"
    if bnb and compat.installed_version("bitsandbytes") is None:
        out.append(
            Finding.error(
                str(rec.path),
                "4-bit QLoRA loads the model through bitsandbytes, which is not installed",
                field="train.quant_method",
                fix="pip install bitsandbytes",
            )
        )
    if rec.launch.deepspeed and compat.installed_version("deepspeed") is None:
        out.append(
            rec.error_at(
                "launch.deepspeed",
                f'deepspeed = "{rec.launch.deepspeed}" but DeepSpeed is not installed',
                "pip install deepspeed (on the GPU host, matching its CUDA)",
            )
        )
    return out


def hub_host() -> tuple[str, int]:
    """Where ms-swift downloads hub datasets from: ModelScope, or Hugging Face with USE_HF."""
    if os.environ.get("USE_HF", "").lower() in ("1", "true"):
        return "huggingface.co", 443
    return MODELSCOPE, 443


def offline_reason(timeout: float = 2.0) -> str | None:
    """Why hub downloads will fail here, or None: an *_OFFLINE variable, or no TCP connection
    to the hub within `timeout` seconds."""
    for var in OFFLINE_VARS:
        if os.environ.get(var, "").lower() in ("1", "true", "yes", "on"):
            return f"{var}={os.environ[var]} is set"
    host, port = hub_host()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"cannot reach {host}:{port} ({exc.strerror or exc.__class__.__name__})"


def login_findings(rec: Recipe) -> list[Finding]:
    """ms-swift logs in to ModelScope at start-up whenever MODELSCOPE_API_TOKEN is set, even
    when the model and the data are local; without network that fails after the imports."""
    if not os.environ.get(TOKEN_VAR) or hub_host()[0] != MODELSCOPE:
        return []
    if (reason := offline_reason()) is None:
        return []
    return [
        Finding.error(
            TOKEN_VAR,
            f"{TOKEN_VAR} is set, so ms-swift logs in to ModelScope at start-up, and the hub "
            f"cannot be reached: {reason}",
            fix="run without it: "
            f"`{shell_line('env', '-u', TOKEN_VAR, 'swiftkit', 'run', rec.path)}` "
            "(a local model and local data need no login)",
        )
    ]


def hub_findings(rec: Recipe) -> list[Finding]:
    hub = [(i, d, d.hub_id.split(":")[0]) for i, d in enumerate(rec.data.datasets) if d.hub_id]
    reason = offline_reason() if hub else None
    out = login_findings(rec)
    for i, ref, repo in hub if reason else []:
        name = repo.split("/")[-1]
        count = f"#{ref.sample}" if ref.sample else ""
        out.append(
            rec.error_at(
                f"data.datasets[{i}]",
                f"hub dataset '{ref.spec}' cannot be downloaded: {reason}",
                f"on a machine with network: `modelscope download --repo-type dataset "
                f"{repo} --local-dir {name}`; copy the folder next to "
                f'the recipe and list its data file instead, e.g. "{name}/<file>.jsonl{count}" '
                "(paths are relative to the recipe; #N keeps the sample count)",
            )
        )
    return out


def cpu_findings(rec: Recipe) -> list[Finding]:
    """A CPU preset with a model too large for this machine's memory (`init --preset cpu
    --model Qwen/Qwen2.5-7B-Instruct`): refused with the numbers before anything loads;
    nothing is said when the shape is unknown."""
    if rec.train.device != "cpu":
        return []
    nproc, cores = rec.launch.processes_per_node(), os.cpu_count() or 1
    if nproc > cores:  # nproc_per_node = 64 on a laptop: not one GPU for them, nor 64 cores
        return [
            rec.error_at(
                "launch.nproc_per_node",
                f"nproc_per_node = {nproc} asks for {nproc} training processes (one per GPU); "
                f"the cpu preset runs them on the CPU, and this machine has {cores} core(s)",
                "remove nproc_per_node for the cpu preset (one process), or run a GPU "
                f"preset on a host with {nproc} GPUs",
            )
        ]
    shape, have = shape_of(rec.model.id, rec.model.path), hardware.ram_gib()
    if shape is None:
        return []
    # each process holds its own copy of the model
    need = estimate(shape, **{"overhead_gib": 0.0, **estimate_args(rec)}).total * nproc
    if need <= have:
        return []
    return [
        rec.error_at(
            "train.preset",
            f"{rec.model.id} on the CPU needs about {need:.1f} GiB of RAM "
            f"({rec.train.value('torch_dtype')}, estimated); this machine has {have:.1f} GiB",
            "the cpu preset is for the tiny test model (`swiftkit init DIR --preset cpu` "
            "without --model); train this model with a GPU preset on a GPU host",
        )
    ]


def check(rec: Recipe, machine: hardware.Machine | None = None) -> list[Finding]:
    machine = machine or hardware.detect()
    return gpu_findings(rec, machine) + cpu_findings(rec) + hub_findings(rec)


def require_fit(rec: Recipe) -> None:
    if errors := errors_only(check(rec)):
        raise SwiftkitError(
            f"{len(errors)} problem(s) with this machine for {rec.path.name}; nothing was started",
            errors,
        )
