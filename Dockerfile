# swiftkit GPU image: the blog's ready-to-run box.
#
# ms-swift (pinned) + swiftkit + recipes/ + datasets/, everything in /root, optionally with
# the model baked in so `swiftkit run recipes/identity.toml` downloads nothing at run time.
#
#   docker build --build-arg MODEL_ID=Qwen/Qwen2.5-7B-Instruct -t swiftkit .
#   docker run --gpus all -it -v "$PWD/output:/root/output" swiftkit run recipes/identity.toml
#
# See docs/container.md. The build is tested with buildah on a local CPU base
# (tests/test_container.py, tests/container/build_base.sh).

# Any image whose `python`/`pip` has torch installed. The default is the CUDA PyTorch runtime.
ARG BASE_IMAGE=pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

# The ms-swift release swiftkit is tested against.
ARG MS_SWIFT_VERSION=4.6.0
# Optional: a model to bake in, e.g. Qwen/Qwen2.5-7B-Instruct -> /root/Qwen2.5-7B-Instruct.
ARG MODEL_ID=
ARG MODEL_REVISION=
# 1 = download from the Hugging Face hub instead of ModelScope (also kept for run time:
# ms-swift reads USE_HF for any hub download it makes itself).
ARG USE_HF=0

ENV LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    USE_HF=${USE_HF}

# ms-swift first (a layer that changes only with MS_SWIFT_VERSION). The base image's torch
# (a CUDA build) is held where it is: a dependency asking for another torch fails the
# build instead of silently swapping in a different build of several GB.
RUN python -c "import importlib.metadata as m; print('torch==' + m.version('torch'))" > /tmp/keep-torch.txt \
    && pip install --no-cache-dir -c /tmp/keep-torch.txt "ms-swift==${MS_SWIFT_VERSION}" \
    && rm -rf /tmp/keep-torch.txt /root/.cache

# The model, only when MODEL_ID is given: into /root/<last part of the id>, hub caches removed.
RUN if [ -n "${MODEL_ID}" ]; then \
        dest="/root/${MODEL_ID##*/}"; \
        if [ "${USE_HF}" = "1" ] || [ "${USE_HF}" = "true" ] || [ "${USE_HF}" = "True" ]; then \
            python -c 'import sys; from huggingface_hub import snapshot_download as d; d(repo_id=sys.argv[1], revision=sys.argv[3] or None, local_dir=sys.argv[2])' \
                "${MODEL_ID}" "${dest}" "${MODEL_REVISION}"; \
        else \
            python -c 'import sys; from modelscope import snapshot_download as d; d(sys.argv[1], revision=sys.argv[3] or None, local_dir=sys.argv[2])' \
                "${MODEL_ID}" "${dest}" "${MODEL_REVISION}"; \
        fi \
        && rm -rf "${dest}/.cache" "${dest}/._____temp" /root/.cache \
        && test -f "${dest}/config.json" \
        && echo "model ${MODEL_ID} -> ${dest}"; \
    fi

# swiftkit from this repository (ms-swift held at the tested version). Its package data links
# swiftkit/recipes and swiftkit/datasets point at ../recipes and ../datasets: copied beside it.
COPY pyproject.toml README.md /tmp/swiftkit/
COPY swiftkit /tmp/swiftkit/swiftkit
COPY recipes /tmp/swiftkit/recipes
COPY datasets /tmp/swiftkit/datasets
RUN python -c "import importlib.metadata as m; print('torch==' + m.version('torch'))" > /tmp/keep-torch.txt \
    && echo "ms-swift==${MS_SWIFT_VERSION}" >> /tmp/keep-torch.txt \
    && pip install --no-cache-dir -c /tmp/keep-torch.txt /tmp/swiftkit \
    && rm -rf /tmp/swiftkit /tmp/keep-torch.txt /root/.cache \
    && swiftkit --version

COPY recipes /root/recipes
COPY datasets /root/datasets

# Training output goes to /root/output: mount a volume there to keep it.
WORKDIR /root
# Where swiftkit looks for a recipe's hub model (`[model] id = "Qwen/Qwen2.5-7B-Instruct"` ->
# /root/Qwen2.5-7B-Instruct), baked in with MODEL_ID or mounted at run time. When it is not
# there, `swiftkit run` stops and says how to provide it instead of downloading ~15 GB into
# the container (`-e SWIFTKIT_MODELS_DIR=` lets ms-swift download it at run time).
ENV SWIFTKIT_MODELS_DIR=/root \
    SWIFTKIT_DATASETS_DIR=/root/datasets

# No HEALTHCHECK: this is a command-line tool run once per job, not a service.
ENTRYPOINT ["swiftkit"]
CMD ["--help"]
