"""Data flows one way: loading and validating a recipe never look at the machine, and the
number of training processes is the one the child will run (recipe [launch] plus
NPROC_PER_NODE/NNODES from the environment), for every check that uses it."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, RTX4090, fake_gpus, gpu_recipe, swiftkit_process


@pytest.fixture
def machine(tmp_path):
    """Run `python -m swiftkit ARGS` in a fresh process that sees `gpus` through a logging
    nvidia-smi; returns (process, the nvidia-smi calls it made)."""
    log = tmp_path / "smi.log"

    def run(*args: str, gpus: tuple[str, ...] = (RTX4090,), env: dict | None = None):
        log.unlink(missing_ok=True)
        unset = {"NPROC_PER_NODE": None, "NNODES": None}
        full = {**unset, **fake_gpus(tmp_path, *gpus, log=log), **(env or {})}
        proc = swiftkit_process(*args, cwd=tmp_path, env=full, timeout=120)
        calls = log.read_text().splitlines() if log.is_file() else []
        return proc, calls

    return run


def test_validate_never_asks_the_machine(machine, tmp_path):
    """Before: loading a recipe ran nvidia-smi (for `auto` and `auto-by-gpu`)."""
    for preset in ("24gb", "auto"):
        proc, calls = machine("validate", str(gpu_recipe(tmp_path, preset=preset)))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert calls == [], f"validate ran nvidia-smi with preset {preset}: {calls}"


def test_validate_says_auto_is_picked_by_the_machine_that_runs_it(machine, tmp_path):
    proc, _ = machine("validate", str(gpu_recipe(tmp_path, preset="auto")))
    assert "preset auto: the machine that runs the recipe picks the preset" in proc.stdout


def test_render_binds_the_recipe_to_this_machine(machine, tmp_path):
    """The plan (render, run) asks the machine once: auto-by-gpu becomes a real dtype."""
    proc, calls = machine("render", "--json", str(gpu_recipe(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    argv = json.loads(proc.stdout)["argv"]
    assert argv[argv.index("--torch_dtype") + 1] == "bfloat16"
    assert calls, "render must see the GPUs to choose the dtype"
    v100 = "Tesla V100-SXM2-32GB, 32768, 7.0"
    proc, _ = machine("render", "--json", str(gpu_recipe(tmp_path)), gpus=(v100,))
    argv = json.loads(proc.stdout)["argv"]
    assert argv[argv.index("--torch_dtype") + 1] == "float16"


def test_gpu_count_check_sees_nproc_per_node_from_the_environment(machine, tmp_path):
    """Before: the GPU-count check read only [launch]; with NPROC_PER_NODE=2 in the
    environment the child starts 2 processes on a 1-GPU machine and the check said nothing."""
    proc, _ = machine("doctor", str(gpu_recipe(tmp_path)), env={"NPROC_PER_NODE": "2"})
    assert proc.returncode == 1, proc.stderr  # an error that stops the run: exit 1
    assert "world size 2" in proc.stdout
    assert "NPROC_PER_NODE=2 in the environment but 1 GPU(s) are visible" in proc.stdout
    proc, _ = machine("doctor", str(gpu_recipe(tmp_path)))
    assert "world size 1" in proc.stdout and "GPU(s) are visible" not in proc.stdout


def test_render_spreads_environment_processes_over_the_gpus(machine, tmp_path):
    """Before: NPROC_PER_NODE=2 from the environment kept the 24gb preset's
    CUDA_VISIBLE_DEVICES=0, putting both processes on GPU 0."""
    r = gpu_recipe(tmp_path)
    two = (RTX4090, RTX4090.replace("4090", "4090 #2"))
    proc, _ = machine("render", "--json", str(r), gpus=two, env={"NPROC_PER_NODE": "2"})
    assert json.loads(proc.stdout)["env"]["CUDA_VISIBLE_DEVICES"] == "0,1"
    proc, _ = machine("render", "--json", str(r), gpus=two)
    assert json.loads(proc.stdout)["env"]["CUDA_VISIBLE_DEVICES"] == "0"


def test_records_per_step_counts_the_environment_processes(machine, tmp_path):
    """The records-per-step warning multiplies by the same world size as the child."""
    data = tmp_path / "d.jsonl"
    rows = [
        {"instruction": f"q{i}", "input": "", "output": f"我是Swift-Robot {i}"} for i in range(20)
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    r = tmp_path / "r.toml"
    r.write_text(
        f'[model]\nid = "Qwen/Qwen2.5-7B-Instruct"\n[data]\ndatasets = ["{data}"]\n'
        '[train]\npreset = "24gb"\noutput_dir = "out"\n[verify]\nenabled = false\n'
    )
    proc, _ = machine("validate", str(r))
    assert proc.returncode == 0 and "process(es)" not in proc.stdout, proc.stdout
    proc, _ = machine("validate", str(r), env={"NPROC_PER_NODE": "2"})
    assert "x 2 process(es) = 32" in proc.stdout, proc.stdout


def _imports(path) -> set[str]:
    """The swiftkit modules a file imports, at the top or inside a function."""
    import ast

    found: set[str] = set()
    here = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's own package
                parts = here.split(".")[: -node.level]
                base = ".".join([*parts, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m.split(".")[0] == "swiftkit"}


def test_the_recipe_and_dataset_checks_never_reach_verify():
    """Data goes down the rooms once: loading and checking what the user wrote (recipe/,
    dataset/) never calls into verify/ or commands/, directly or through what it imports.
    Before: `validate` and the plan reached verify/probes.py from the recipe checks."""
    files = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "swiftkit").rglob("*.py")
    }
    todo = [m for m in files if m.startswith(("swiftkit.recipe", "swiftkit.dataset"))]
    assert todo, "no recipe/ or dataset/ modules found"
    how: dict[str, str] = {m: m for m in todo}
    while todo:
        module = todo.pop()
        for name in _imports(files[module]):
            if name in files and name not in how:
                how[name] = f"{how[module]} -> {name}"
                todo.append(name)
    reached = [how[m] for m in how if m.startswith(("swiftkit.verify", "swiftkit.commands"))]
    assert not reached, "\n".join(reached)
