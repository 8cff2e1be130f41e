"""`swiftkit verify --url URL TARGET`: a model served anywhere (vLLM, Ollama, a merged model),
judged as a checkpoint is. TARGET (a recipe, a run folder, a checkpoint) names the identity and
probes; the report goes into the run folder, or for a recipe a new folder beside its runs."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

from swiftkit import dataset
from swiftkit import recipe as recipes
from swiftkit.msswift.args import CheckpointArgs
from swiftkit.pipeline import folders
from swiftkit.pipeline.resolve import resolve
from swiftkit.serving.client import Answer, Endpoint, ask_all, progress_counter
from swiftkit.serving.pair import model_id
from swiftkit.verify import verdict
from swiftkit.verify.probes import gather
from swiftkit.verify.report import VerifyReport


def is_recipe(spec: str | None) -> bool:
    return bool(spec) and str(spec).endswith(".toml")


def verify_url(
    spec: str | None,
    endpoint: Endpoint,
    model: str | None = None,
    base_model: str | None = None,
    status: verdict.Status = verdict.quiet,
    output_dir: Path | None = None,
    judge: str | None = None,
    judge_model: str | None = None,
) -> VerifyReport:
    """Ask `model` (default: the only one served) and `base_model` when given; the report."""
    if is_recipe(spec):
        recipe = recipes.load(Path(str(spec)))
        cfg, new = recipe.verify, verdict.need_identity(recipe.identity.new, str(recipe.path))
        chosen = endpoint.pick_model(model)
        out = folders.new_run_dir(recipe.output_dir, f"verify-{model_id(chosen, 'model')}")
        for i, ref in enumerate(recipe.data.datasets):  # the training questions, names filled in
            if ref.path is not None and ref.path.is_file():
                name = f"{i}-{ref.path.stem}.jsonl"
                dataset.render_copy(ref.path, recipe.identity.fills(), out / "data", name)
        args = CheckpointArgs(model=recipe.model.id, template=recipe.model.template)
        probes = gather(cfg, out, args, *recipe.identity.who)
        subject = verdict.Subject(out, out, args)
    else:
        target = resolve(spec, output_dir)
        args = target.args()
        cfg, new, probes = verdict.what_to_ask(target, args)
        chosen = endpoint.pick_model(model)
        # its own report folder beside the run's: a served model's answers never replace
        # the report of the checkpoint they are compared with
        home = target.run_dir or target.checkpoint.parent
        out = folders.new_run_dir(home, f"verify-{model_id(chosen, 'model')}")
        subject = verdict.Subject(target.checkpoint, out, args)
    cfg = verdict.with_judge(cfg, judge, judge_model)
    status(f"asking {len(probes)} probes of {chosen} at {endpoint.url}")
    questions = [p.messages for p in probes]
    ask = partial(ask_all, endpoint, conversations=questions, max_tokens=cfg.max_new_tokens)
    try:
        after = ask(chosen, on_answer=progress_counter(status, chosen))
        before: list[Answer | None] = [None] * len(probes)
        if base_model:
            before = list(ask(base_model, on_answer=progress_counter(status, base_model)))
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # a failed attempt leaves no folder behind
        raise
    out.mkdir(parents=True, exist_ok=True)
    status(f"report folder: {out}")
    asked = verdict.Asked(after, before, served=f"{chosen} at {endpoint.url}")
    return verdict.score_and_write(subject, cfg, new, probes, asked)
