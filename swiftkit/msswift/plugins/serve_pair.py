"""An ms-swift plugin for `swift deploy --adapters NAME=CKPT`, the one model load that answers
for the base model and the adapter (verify, infer, chat --compare, serve).

Loaded by `swift deploy --external_plugins <this file>`. Two fixes to ms-swift 4.6's server,
each applied only when the code it fixes is there (another version: nothing changes):

- batches: with a named adapter, the transformers engine passes `adapter_names=[name]` for a
  whole batch, and peft refuses it ("Length of `adapter_names` should be the same as the
  number of inputs") whenever `--max_batch_size` batches more than one request: the name is
  repeated once per request of the batch.
- names: a response carries the model id the client asked for ("Nova"), not the base
  model's folder name, so a client comparing the two ids can tell the answers apart.

This file runs inside ms-swift: its imports are fine here.
"""

from __future__ import annotations

import functools
import threading


def _batch_adapter_names() -> None:
    try:
        from swift.infer_engine.transformers_engine import TransformersEngine
    except ImportError:
        return
    names_of = getattr(TransformersEngine, "_get_adapter_names", None)
    if names_of is None or getattr(names_of, "_swiftkit", False):
        return
    local = threading.local()

    def with_batch(method):
        @functools.wraps(method)
        def run(self, inputs, *args, **kwargs):
            mask = inputs.get("attention_mask") if isinstance(inputs, dict) else None
            local.batch = int(mask.shape[0]) if mask is not None else 1
            try:
                return method(self, inputs, *args, **kwargs)
            finally:
                local.batch = 1

        return run

    def names(self, adapter_request):
        got = names_of(self, adapter_request)
        batch = getattr(local, "batch", 1)
        if got is not None and len(got) == 1 and batch > 1:
            return got * batch
        return got

    names._swiftkit = True  # type: ignore[attr-defined]
    TransformersEngine._get_adapter_names = names
    for method in ("_infer_full", "_infer_stream", "_infer_forward"):
        if hasattr(TransformersEngine, method):
            setattr(TransformersEngine, method, with_batch(getattr(TransformersEngine, method)))


def _name_responses() -> None:
    try:
        from swift.pipelines.infer.deploy import SwiftDeploy
    except ImportError:
        return
    create = getattr(SwiftDeploy, "create_chat_completion", None)
    if create is None or getattr(create, "_swiftkit", False):
        return

    @functools.wraps(create)
    async def named(self, request, raw_request, **kwargs):
        response = await create(self, request, raw_request, **kwargs)
        if hasattr(response, "model") and isinstance(getattr(request, "model", None), str):
            response.model = request.model
        return response

    named._swiftkit = True  # type: ignore[attr-defined]
    SwiftDeploy.create_chat_completion = named


_batch_adapter_names()
_name_responses()
