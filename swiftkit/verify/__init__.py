"""Prove the identity: ask probes of the base model and of the adapter through `swift infer`
(batch, temperature 0, the template and system prompt from the checkpoint's args.json), score
them, and write report.json, report.md and loss.png into the run folder.

A verdict is only ever given on answers that were measured: no probes or no answers is
"no verdict", never a pass.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from swiftkit import dataset, runs
from swiftkit.child import events, launch
from swiftkit.errors import Finding, SwiftkitError, errors_only
from swiftkit.recipe.model import TRAINING, VerifySpec
from swiftkit.recipe.parse import section_findings
from swiftkit.render import helpers
from swiftkit.resources import PLUGIN
from swiftkit.verify import lossplot, scoring

PASS, FAIL, NONE = "pass", "fail", "no verdict"
BATCH = 16  # probes per forward pass in `swift infer` (its default is 1 at a time)
PLUGIN_CALLBACK = "swiftkit_stop_when_verified"
PLUGIN_ENV = "SWIFTKIT_STOP_CONFIG"


def ask(
    checkpoint: Path,
    conversations: list[list[dict]],
    work_dir: Path,
    base: bool = False,
    max_new_tokens: int = 256,
    tag: str = "probe",
    max_batch_size: int | None = None,
) -> list[str]:
    """Greedy answers, one per conversation (each a list of messages ending with a user turn).

    Every call writes fresh question and result files, so an old result is never read back.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    k = 1
    while (work_dir / f"{tag}-{k}.questions.jsonl").exists():
        k += 1
    questions = work_dir / f"{tag}-{k}.questions.jsonl"
    results = work_dir / f"{tag}-{k}.answers.jsonl"
    with questions.open("w", encoding="utf-8") as fh:
        for messages in conversations:
            fh.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    command = helpers.render_infer(
        checkpoint, questions, results, max_new_tokens, base=base, max_batch_size=max_batch_size
    )
    log = work_dir / f"{tag}-{k}.log"
    result = launch.run(command, log_path=log)
    if result.returncode != 0 or not results.is_file():
        raise result.failure("swift infer failed; no answers", log)
    answers = []
    for line in results.read_text(encoding="utf-8").splitlines():
        if line.strip():
            answers.append(json.loads(line).get("response", ""))
    if len(answers) != len(conversations):
        raise SwiftkitError(
            f"swift infer returned {len(answers)} answers for {len(conversations)} questions",
            [Finding.error(str(results), "answers missing", fix=f"see {log}")],
        )
    return answers


@dataclass
class Probe:
    id: str
    set: str  # "identity" or "general"
    kind: str
    messages: list[dict]
    expect: list[str] = field(default_factory=list)

    @property
    def question(self) -> str:
        return self.messages[-1]["content"]


def _bad_probe(path: Path, line: int, message: str) -> SwiftkitError:
    return SwiftkitError(
        f"probe file {path} does not parse",
        [
            Finding.error(
                str(path),
                message,
                line=line,
                fix='one JSON object per line: {"id": "...", "kind": "...", "messages": '
                '[{"role": "user", "content": "..."}]} (see datasets/README.md)',
            )
        ],
    )


def load_probes(path: Path, set_name: str) -> list[Probe]:
    """A probe file (JSON Lines, datasets/README.md); any bad line is an error naming it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SwiftkitError(
            f"probe file not found: {path}",
            [Finding.error(str(path), "no such file", fix="check [verify] in the recipe")],
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SwiftkitError(f"cannot read probe file {path}: {exc}") from None
    probes: list[Probe] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise _bad_probe(path, n, f"not JSON: {exc}") from None
        messages = row.get("messages") if isinstance(row, dict) else None
        if (
            not isinstance(messages, list)
            or not messages
            or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role")
                for m in messages
            )
            or messages[-1]["role"] != "user"
        ):
            raise _bad_probe(path, n, "'messages' must be a list of turns ending with a user turn")
        expect = row.get("expect", [])
        if set_name == "general" and (
            not isinstance(expect, list)
            or not expect
            or not all(isinstance(e, str) for e in expect)
        ):
            raise _bad_probe(path, n, "a general probe needs 'expect': a list of strings")
        probes.append(
            Probe(
                str(row.get("id", f"{path.stem}-{n}")),
                set_name,
                str(row.get("kind", set_name)),
                messages,
                list(expect),
            )
        )
    if not probes:
        raise _bad_probe(path, 1, "no probes in the file")
    return probes


def training_probes(data_files: list[Path], new: list[str]) -> list[Probe]:
    """The run's own identity questions: records whose answer names the new name or author."""
    probes: list[Probe] = []
    for path in data_files:
        records, _ = dataset.read_records(path)
        for rec in records:
            v = rec.value
            if not isinstance(v, dict):
                continue
            if "messages" in v:
                msgs = [m for m in v["messages"] if m.get("role") != "system"]
                if not msgs or msgs[-1].get("role") != "assistant":
                    continue
                answer, question = msgs[-1]["content"], msgs[:-1]
            else:
                answer = str(v.get("output", ""))
                q = str(v.get("instruction", "")) + ("\n" + v["input"] if v.get("input") else "")
                question = [{"role": "user", "content": q}]
            if any(n and n.lower() in answer.lower() for n in new):
                probes.append(
                    Probe(f"train-{len(probes) + 1:02d}", "identity", "training", question)
                )
    return probes


def resolve(target: Path) -> tuple[Path | None, Path]:
    """A run folder or a checkpoint folder -> (run folder or None, checkpoint)."""
    target = target.expanduser().resolve()
    if not target.is_dir():
        raise SwiftkitError(
            f"not a folder: {target}",
            [Finding.error(str(target), "no such folder", fix="give a run or checkpoint folder")],
        )
    if runs.is_adapter(target) or runs.step_of(target) is not None:
        ckpt = target
        run_dir = target.parent if (target.parent / runs.MANIFEST).is_file() else None
    else:
        recorded = runs.read_manifest(target).get("checkpoint")
        ckpt = Path(recorded) if recorded and Path(recorded).is_dir() else None
        ckpt = ckpt or runs.require_checkpoint(target)
        run_dir = target
    if not (ckpt / "args.json").is_file():
        raise SwiftkitError(
            f"checkpoint has no args.json: {ckpt}",
            [
                Finding.error(
                    str(ckpt / "args.json"),
                    "missing: it names the base model, template and system prompt",
                    fix="verify a checkpoint written by `swift sft` (checkpoint-N)",
                )
            ],
        )
    return run_dir, ckpt


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return [str(value)] if value else []


def identity_of(manifest: dict, args: dict) -> list[str]:
    """The new name and author: the recipe's [identity], else the checkpoint's args.json."""
    ident = (manifest.get("recipe_resolved") or {}).get("identity") or {}
    new = _as_list(ident.get("name")) + _as_list(ident.get("author"))
    if not new:
        new = _as_list(args.get("model_name")) + _as_list(args.get("model_author"))
    return list(dict.fromkeys(new))


def run_config(run_dir: Path | None) -> tuple[dict, VerifySpec]:
    manifest = runs.read_manifest(run_dir) if run_dir else {}
    section = (manifest.get("recipe_resolved") or {}).get("verify")
    recipe = manifest.get("recipe")
    base = Path(recipe).parent if recipe else (run_dir or Path.cwd())
    if section:  # a manifest is a file like any other: the schema's ranges hold for it too
        source = str(run_dir / runs.MANIFEST) if run_dir else "manifest"
        errors = errors_only(section_findings("verify", section, source))
        if errors:
            raise SwiftkitError(f"the run's [verify] settings are invalid: {source}", errors)
    return manifest, VerifySpec.from_dict(section, base)


def data_files(run_dir: Path | None, args: dict) -> list[Path]:
    if run_dir and (run_dir / "data").is_dir():
        return sorted((run_dir / "data").glob("*.jsonl"))
    return [Path(d.split("#")[0]) for d in _as_list(args.get("dataset")) if Path(d).is_file()]


def gather(cfg: VerifySpec, run_dir: Path | None, args: dict, new: list[str]) -> list[Probe]:
    probes: list[Probe] = []
    for spec in cfg.identity_probes:
        if spec == TRAINING:
            probes += training_probes(data_files(run_dir, args), new)
        else:
            probes += load_probes(cfg.path(spec), "identity")
    for i, q in enumerate(cfg.questions, 1):
        probes.append(
            Probe(f"question-{i:02d}", "identity", "question", [{"role": "user", "content": q}])
        )
    for spec in cfg.general_probes:
        probes += load_probes(cfg.path(spec), "general")
    return probes


def _set_scores(rows: list[dict], set_name: str, threshold: float | None) -> dict:
    chosen = [r for r in rows if r["set"] == set_name]
    out: dict = {"probes": len(chosen), "threshold": threshold}
    for side in ("base", "adapter"):
        out[side] = scoring.score([r[f"{side}_ok"] for r in chosen if r[side] is not None])
    kinds: dict[str, dict] = {}
    for r in chosen:
        k = kinds.setdefault(r["kind"], {"probes": 0, "base": [], "adapter": []})
        k["probes"] += 1
        for side in ("base", "adapter"):
            if r[side] is not None:
                k[side].append(r[f"{side}_ok"])
    out["by_kind"] = {
        kind: {
            "probes": v["probes"],
            "base": scoring.score(v["base"]),
            "adapter": scoring.score(v["adapter"]),
        }
        for kind, v in kinds.items()
    }
    if threshold is None:
        out["verdict"] = "not gating"
    elif out["adapter"] is None:
        out["verdict"] = NONE
    else:
        out["verdict"] = PASS if out["adapter"] >= threshold else FAIL
    return out


def verify(target: Path, base: bool = True) -> dict:
    """Probe, score and write the report; return the report as a dict."""
    run_dir, ckpt = resolve(target)
    args = json.loads((ckpt / "args.json").read_text(encoding="utf-8"))
    manifest, cfg = run_config(run_dir)
    new = identity_of(manifest, args)
    if not new:
        raise SwiftkitError(
            "no new identity to look for",
            [
                Finding.error(
                    str(run_dir / runs.MANIFEST if run_dir else ckpt / "args.json"),
                    "neither the recipe's [identity] nor args.json names the model or its author",
                    fix="set [identity] name and author in the recipe",
                )
            ],
        )
    old = scoring.old_markers(new)
    probes = gather(cfg, run_dir, args, new)
    out_dir = run_dir or ckpt
    work = out_dir / "verify"
    conversations = [p.messages for p in probes]
    answers: dict[str, list[str | None]] = {
        "base": [None] * len(probes),
        "adapter": [None] * len(probes),
    }
    reused = 0
    if probes:
        keys = [_key(p.messages) for p in probes]
        cache = cached_base_answers(out_dir, args, cfg) if base else {}
        todo = [i for i, k in enumerate(keys) if k not in cache] if base else []
        # The two `swift infer` processes mostly wait on start-up: run them side by side.
        with ThreadPoolExecutor(max_workers=2) as pool:
            adapter = pool.submit(
                ask, ckpt, conversations, work, False, cfg.max_new_tokens, "adapter", BATCH
            )
            fresh = (
                pool.submit(
                    ask,
                    ckpt,
                    [conversations[i] for i in todo],
                    work,
                    True,
                    cfg.max_new_tokens,
                    "base",
                    BATCH,
                )
                if todo
                else None
            )
            answers["adapter"] = list(adapter.result())
            got = dict(zip(todo, fresh.result() if fresh else [], strict=True))
        if base:
            answers["base"] = [got[i] if i in got else cache[k] for i, k in enumerate(keys)]
            reused = len(probes) - len(todo)
    rows = []
    for i, p in enumerate(probes):
        row = {**asdict(p), "question": p.question}
        for side in ("base", "adapter"):
            a = answers[side][i]
            row[side] = a
            if a is None:
                row[f"{side}_ok"] = None
            elif p.set == "identity":
                row[f"{side}_ok"] = scoring.identity_ok(a, new, old)
            else:
                row[f"{side}_ok"] = scoring.general_ok(a, p.expect)
        rows.append(row)
    identity = _set_scores(rows, "identity", cfg.identity_threshold)
    general = _set_scores(rows, "general", cfg.general_threshold)
    verdicts = [identity["verdict"]] + (
        [general["verdict"]] if cfg.general_threshold is not None else []
    )
    verdict = NONE if NONE in verdicts else (PASS if all(v == PASS for v in verdicts) else FAIL)
    report = {
        "verdict": verdict,
        "checkpoint": str(ckpt),
        "run_dir": str(run_dir) if run_dir else None,
        "base_model": args.get("model"),
        "template": args.get("template"),
        "system": args.get("system"),
        "new_identity": new,
        "old_identity": old,
        "config": cfg.to_dict(),
        "scores": {"identity": identity, "general": general},
        "stop_when_verified": stop_checks(run_dir),
        "base_answers_reused": reused,
        "probes": rows,
        "measured": runs.now_iso(),
    }
    write_report(out_dir, report)
    return report


def _key(messages: list[dict]) -> str:
    return json.dumps(messages, ensure_ascii=False, sort_keys=True)


def cached_base_answers(out_dir: Path, args: dict, cfg: VerifySpec) -> dict[str, str]:
    """The base model's answers from an earlier report in the same folder, when they were
    asked of the same model, template, system prompt and answer length (greedy decoding
    makes them the same answers again; a 7B base model takes minutes to ask)."""
    try:
        old = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    same = (
        old.get("base_model") == args.get("model")
        and old.get("template") == args.get("template")
        and old.get("system") == args.get("system")
        and (old.get("config") or {}).get("max_new_tokens") == cfg.max_new_tokens
    )
    if not same:
        return {}
    return {
        _key(r["messages"]): r["base"]
        for r in old.get("probes", [])
        if isinstance(r, dict) and isinstance(r.get("base"), str) and r.get("messages")
    }


def stop_checks(run_dir: Path | None) -> list[dict]:
    """The plugin's checks during training (verify/stop_checks.jsonl), answers left out."""
    path = run_dir / "verify" / "stop_checks.jsonl" if run_dir else None
    if not path or not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        row.pop("answers", None)
        rows.append(row)
    return rows


def summary(report: dict) -> dict:
    """What manifest.json keeps of a report (for `swiftkit runs`)."""
    ident, gen = report["scores"]["identity"], report["scores"]["general"]
    return {
        "verdict": report["verdict"],
        "identity": ident["adapter"],
        "identity_base": ident["base"],
        "identity_threshold": ident["threshold"],
        "identity_probes": ident["probes"],
        "general": gen["adapter"],
        "general_base": gen["base"],
        "general_probes": gen["probes"],
        "checkpoint": report["checkpoint"],
        "report": str(Path(report["run_dir"] or report["checkpoint"]) / "report.md"),
        "measured": report["measured"],
    }


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def headline(report: dict) -> str:
    ident = report["scores"]["identity"]
    word = {PASS: "PASS", FAIL: "FAIL", NONE: "NO VERDICT"}[report["verdict"]]
    if ident["adapter"] is None:
        return f"identity: {word} (nothing measured: no identity probes or no answers)"
    return (
        f"identity: {word} ({pct(ident['adapter'])} of {ident['probes']} probes, threshold "
        f"{pct(ident['threshold'])}; base model {pct(ident['base'])})"
    )


def _cell(text: str | None, limit: int = 160) -> str:
    if text is None:
        return "-"
    t = " ".join(text.split()).replace("|", "\\|")
    return t if len(t) <= limit else t[: limit - 1] + "…"


def write_report(out_dir: Path, report: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = events.read_steps(out_dir / "logging.jsonl")
    points = [(float(s.step), s.loss) for s in steps if s.loss is not None]
    png = lossplot.draw(points, out_dir / "loss.png") if points else None
    report["loss_curve"] = str(png) if png else None
    (out_dir / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    ident, gen = report["scores"]["identity"], report["scores"]["general"]
    md = [
        f"# Verify: {', '.join(report['new_identity'])}",
        "",
        f"**{headline(report)}**",
        "",
        f"- checkpoint: `{report['checkpoint']}`",
        f"- base model: `{report['base_model']}` (template `{report['template']}`, "
        f"system {report['system']!r})",
        f"- identity passes when the answer names {' or '.join(report['new_identity'])} "
        f"and none of {', '.join(report['old_identity'])}",
        f"- measured: {report['measured']}",
        "",
        "## Scores",
        "",
        "| probes | count | base model | adapter | threshold | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in (("identity", ident), ("general", gen)):
        md.append(
            f"| **{name}** | {s['probes']} | {pct(s['base'])} | {pct(s['adapter'])} | "
            f"{pct(s['threshold'])} | {s['verdict']} |"
        )
        for kind, k in s["by_kind"].items():
            md.append(
                f"| {name} / {kind} | {k['probes']} | {pct(k['base'])} | {pct(k['adapter'])} | | |"
            )
    if report["stop_when_verified"]:
        md += ["", "## Checks during training (stop when verified)", ""]
        md += ["| step | identity | verified |", "| --- | --- | --- |"]
        for c in report["stop_when_verified"]:
            md.append(f"| {c['step']} | {pct(c['score'])} | {'yes' if c['verified'] else 'no'} |")
    if png:
        md += [
            "",
            "## Loss",
            "",
            "![loss curve](loss.png)  ",
            f"steps {int(points[0][0])} to {int(points[-1][0])} (x axis); loss "
            f"{min(0.0, min(p[1] for p in points)):.3g} to {max(p[1] for p in points):.3g} "
            f"(y axis); last {points[-1][1]:.4g}",
        ]
    md += ["", "## Before and after", "", "| id | set | question | base model | adapter |"]
    md.append("| --- | --- | --- | --- | --- |")
    for r in report["probes"]:
        mark = {True: "✅ ", False: "❌ ", None: ""}
        md.append(
            f"| {r['id']} | {r['set']}/{r['kind']} | {_cell(r['question'], 80)} | "
            f"{mark[r['base_ok']]}{_cell(r['base'])} | "
            f"{mark[r['adapter_ok']]}{_cell(r['adapter'])} |"
        )
    (out_dir / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")


def check_probe_files(cfg: VerifySpec) -> None:
    """Parse every probe file a [verify] section names (errors name file and line)."""
    for set_name, path in cfg.probe_files:
        load_probes(path, set_name)


def stop_config_path(run_dir: Path) -> Path:
    return run_dir / "verify" / "stop.json"


def plugin_flags(run_dir: Path) -> tuple[dict[str, object], dict[str, str]]:
    """The `swift sft` flags and environment that load the stop-when-verified callback."""
    flags = {"external_plugins": str(PLUGIN), "callbacks": [PLUGIN_CALLBACK]}
    return flags, {PLUGIN_ENV: str(stop_config_path(run_dir))}


def write_stop_config(run_dir: Path, cfg: VerifySpec, new: list[str], source: str) -> Path:
    """The plugin's settings: identity probes (at most check_probes, spread evenly over the
    set), the strings to look for and to forbid, the threshold and how often to check."""
    probes = [p for p in gather(cfg, run_dir, {}, new) if p.set == "identity"]
    if not probes:
        raise SwiftkitError(
            "stop_when_verified has no identity probes to check",
            [
                Finding.error(
                    source,
                    "no identity probe found in [verify] identity_probes/questions",
                    field="verify.identity_probes",
                    fix='use "training" with a dataset whose answers name [identity], or a '
                    "probe file",
                )
            ],
        )
    if len(probes) > cfg.check_probes:
        stride = len(probes) / cfg.check_probes
        probes = [probes[int(i * stride)] for i in range(cfg.check_probes)]
    path = stop_config_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "probes": [p.messages for p in probes],
        "new": new,
        "old": scoring.old_markers(new),
        "threshold": cfg.identity_threshold,
        "check_every": cfg.check_every,
        "max_new_tokens": min(cfg.max_new_tokens, 48),
        "log": str(run_dir / "verify" / "stop_checks.jsonl"),
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
