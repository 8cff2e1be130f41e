"""`swiftkit verify --url URL TARGET`: the identity of a model someone else serves (vLLM,
Ollama's /v1, `swift deploy`, a merged model anywhere), judged by the same probes, scorer and
report as a checkpoint. TARGET (a recipe, a run folder, a checkpoint) names the identity and
the probes; the report goes into the run folder, or for a recipe into a new folder beside its
runs."""

from __future__ import annotations

import re
from pathlib import Path

from swiftkit import dataset
from swiftkit import recipe as recipes
from swiftkit.msswift.args import CheckpointArgs
from swiftkit.pipeline import folders
from swiftkit.pipeline.resolve import resolve
from swiftkit.recipe.model import VerifySpec
from swiftkit.serving.client import Answer, Endpoint, ask_all, progress_counter
from swiftkit.verify.probes import Probe, gather
from swiftkit.verify.report import VerifyReport
from swiftkit.verify.verdict import (
    Asked,
    Status,
    Subject,
    need_identity,
    quiet,
    score_and_write,
    what_to_ask,
)


def is_recipe(spec: str | None) -> bool:
    return bool(spec) and str(spec).endswith(".toml")


def verify_url(
    spec: str | None,
    endpoint: Endpoint,
    model: str | None = None,
    base_model: str | None = None,
    status: Status = quiet,
    output_dir: Path | None = None,
) -> VerifyReport:
    """Ask the probes TARGET names of `model` (default: the only one served) at the
    endpoint, and of `base_model` too when given; score and write the report."""
    if is_recipe(spec):
        return _recipe_target(Path(str(spec)), endpoint, model, base_model, status)
    target = resolve(spec, output_dir)
    args = target.args()
    cfg, new, probes = what_to_ask(target, args)
    asked = _ask(endpoint, model, base_model, probes, cfg, status)
    return score_and_write(
        Subject(target.checkpoint, target.run_dir, args), cfg, new, probes, asked
    )


def _ask(
    endpoint: Endpoint,
    model: str | None,
    base_model: str | None,
    probes: list[Probe],
    cfg: VerifySpec,
    status: Status,
) -> Asked:
    """The answers of `model` (default: the only one served) and of `base_model` when given."""
    chosen = endpoint.pick_model(model)
    status(f"asking {len(probes)} probes of {chosen} at {endpoint.url}")
    questions = [p.messages for p in probes]
    tokens = cfg.max_new_tokens
    after = ask_all(endpoint, chosen, questions, tokens, progress_counter(status, chosen))
    before: list[Answer | None] = [None] * len(probes)
    if base_model:
        said = progress_counter(status, base_model)
        before = list(ask_all(endpoint, base_model, questions, tokens, said))
    return Asked(after, before, served=f"{chosen} at {endpoint.url}")


def _recipe_target(
    path: Path, endpoint: Endpoint, model: str | None, base_model: str | None, status: Status
) -> VerifyReport:
    recipe = recipes.load(path)
    new = need_identity(recipe.identity.new, str(recipe.path))
    chosen = endpoint.pick_model(model)
    slug = re.sub(r"[^\w.-]+", "-", chosen).strip("-") or "model"
    out = folders.new_run_dir(recipe.output_dir, f"verify-{slug}")
    for i, ref in enumerate(recipe.data.datasets):  # the training questions, names filled in
        if ref.path is not None and ref.path.is_file():
            dataset.render_copy(
                ref.path, recipe.identity.fills(), out / "data", f"{i}-{ref.path.stem}.jsonl"
            )
    args = CheckpointArgs(model=recipe.model.id, template=recipe.model.template)
    probes = gather(recipe.verify, out, args, new)
    out.mkdir(parents=True, exist_ok=True)
    status(f"report folder: {out}")
    asked = _ask(endpoint, chosen, base_model, probes, recipe.verify, status)
    subject = Subject(out, out, args)
    return score_and_write(subject, recipe.verify, new, probes, asked)
