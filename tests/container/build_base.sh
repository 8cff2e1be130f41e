#!/usr/bin/env bash
# Assemble a local, CPU-only stand-in for a CUDA PyTorch runtime image, with buildah.
#
#   Debian bookworm (debootstrap --variant=minbase) + python3, python3-venv, python3-pip,
#   ca-certificates; a venv at /opt/venv, first on PATH, holding the CPU torch wheel that
#   lies on this disk. Like pytorch/pytorch:*-runtime it offers `python` and `pip` with
#   torch importable, so the repo's Dockerfile can be built FROM it:
#
#     buildah bud --build-arg BASE_IMAGE=localhost/swiftkit-base:cpu ...
#
# The image is cached: nothing is done if it already exists (SWIFTKIT_BASE_REBUILD=1 forces).
# Runs as root (buildah with chroot isolation needs no daemon).
#
# Environment (all optional):
#   SWIFTKIT_BASE_IMAGE    image name             (default localhost/swiftkit-base:cpu)
#   SWIFTKIT_TORCH_WHEEL   torch wheel to install  (default /opt/wheels/torch-2.13.0+cpu-...whl)
#   SWIFTKIT_DEBIAN_MIRROR Debian mirror           (default: the host's apt sources, else deb.debian.org)
#   SWIFTKIT_BASE_REBUILD  1 = rebuild even if the image exists
#   SWIFTKIT_STORAGE_DRIVER buildah storage driver: overlay, vfs, or auto (default): overlay
#                          where this kernel mounts it, else vfs (slow: every container and
#                          layer is a full copy of the image)
#
# Prints the storage driver it used on stdout (its only stdout line), so callers use the same.
set -euo pipefail

IMAGE="${SWIFTKIT_BASE_IMAGE:-localhost/swiftkit-base:cpu}"
TORCH_WHEEL="${SWIFTKIT_TORCH_WHEEL:-/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl}"
SUITE=bookworm
DRIVER="${SWIFTKIT_STORAGE_DRIVER:-auto}"
export BUILDAH_ISOLATION=chroot

# torch's own dependencies (and numpy, which the PyTorch images ship), pinned so the base
# is the same on every build.
TORCH_DEPS_PINNED=(
    filelock==4.2.12 fsspec==2026.2.0 Jinja2==3.1.6 MarkupSafe==3.0.4 mpmath==1.3.0
    networkx==3.6.1 setuptools==84.2.1 sympy==1.14.0 typing_extensions==4.16.0 numpy==2.4.6
)

# buildah 1.28 ignores STORAGE_DRIVER in the environment: pass the driver on every call.
bh() { buildah --storage-driver "$DRIVER" "$@"; }
log() { printf '[build_base] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (buildah with chroot isolation, debootstrap)"

# --- tools: Debian's packages, installed by the script itself --------------------------
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- storage driver ---------------------------------------------------------------------------
if [ "$DRIVER" = auto ]; then
    if buildah --storage-driver overlay info >/dev/null 2>&1; then DRIVER=overlay; else DRIVER=vfs; fi
fi
log "storage driver $DRIVER"
echo "$DRIVER"

# --- cache -------------------------------------------------------------------------------
if [ "${SWIFTKIT_BASE_REBUILD:-0}" != 1 ] && bh inspect --type image "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE exists, skipping (SWIFTKIT_BASE_REBUILD=1 to rebuild)"
    exit 0
fi

[ -f "$TORCH_WHEEL" ] || die "torch wheel not found: $TORCH_WHEEL (set SWIFTKIT_TORCH_WHEEL)"

# --- Debian mirror: the one apt on this host uses ------------------------------------------
mirror="${SWIFTKIT_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
    mirror="$(
        {
            grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
            grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
                sed -E 's/\[[^]]*\]//' | awk '{print $2}'
        } | grep -E '/debian/?$' | head -n1 || true
    )"
    mirror="${mirror:-http://deb.debian.org/debian}"
fi
log "mirror $mirror"

start=$(date +%s)
ctr=""
cleanup() {
    if [ -n "$ctr" ]; then
        bh umount "$ctr" >/dev/null 2>&1 || true
        bh rm "$ctr" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

ctr="$(bh from scratch)"
root="$(bh mount "$ctr")"

# --- Debian minbase straight into the container's root ------------------------------------
log "debootstrap $SUITE (minbase) into $ctr"
debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates \
    "$SUITE" "$root" "$mirror" >/tmp/swiftkit-debootstrap.log 2>&1 ||
    { tail -n 30 /tmp/swiftkit-debootstrap.log >&2; die "debootstrap failed (log: /tmp/swiftkit-debootstrap.log)"; }

# This machine reaches PyPI through a TLS-inspecting egress proxy whose CA lives in the
# host's trust store (/usr/local/share/ca-certificates, merged into
# /etc/ssl/certs/ca-certificates.crt; /etc/pip.conf points pip at that bundle). Carry the
# host's extra CAs into the base so pip inside `buildah bud` reaches PyPI the same way the
# host does. A real CUDA base image on a normal host needs none of this.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
mkdir -p "$root/tmp/wheels"
cp "$TORCH_WHEEL" "$root/tmp/wheels/"
printf '%s\n' "${TORCH_DEPS_PINNED[@]}" >"$root/tmp/wheels/constraints.txt"

log "venv /opt/venv + $(basename "$TORCH_WHEEL")"
# Inside the build the host's pip settings (/etc/pip.conf, PIP_FIND_LINKS=/opt/wheels,
# local file:// indexes) do not exist: pip reaches PyPI normally, trusting the system CAs.
bh run --isolation chroot \
    --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    --env PIP_DISABLE_PIP_VERSION_CHECK=1 \
    --env PIP_DEFAULT_TIMEOUT=180 \
    "$ctr" -- sh -euc '
        update-ca-certificates >/dev/null 2>&1
        python3 -m venv /opt/venv
        /opt/venv/bin/pip install --no-cache-dir --quiet \
            -c /tmp/wheels/constraints.txt /tmp/wheels/torch-*.whl numpy
        /opt/venv/bin/python -c "import torch; print(\"torch\", torch.__version__)"
        rm -rf /tmp/wheels /root/.cache
        find /opt/venv -name __pycache__ -prune -exec rm -rf {} +
        apt-get clean
        rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
               /var/cache/debconf/*-old /var/lib/dpkg/*-old
    ' >&2

bh config \
    --env PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --env LC_ALL=C.UTF-8 \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --env REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    --env PIP_DISABLE_PIP_VERSION_CHECK=1 \
    --workingdir /workspace \
    --cmd /bin/bash \
    --label org.opencontainers.image.description="swiftkit test base: Debian $SUITE, python3, CPU torch in /opt/venv" \
    "$ctr"

bh umount "$ctr" >/dev/null
bh commit --quiet --rm "$ctr" "$IMAGE" >/dev/null
ctr=""
log "built $IMAGE in $(($(date +%s) - start)) s"
