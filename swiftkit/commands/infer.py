"""`swiftkit infer [RUN] --prompt TEXT | --file FILE`: answers without a chat session."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import click

from swiftkit import defaults, jsonl
from swiftkit.commands import open_target, target_command, to_stderr
from swiftkit.errors import Echo, SwiftkitError, refuse_unless_file
from swiftkit.pipeline import launch
from swiftkit.pipeline.progress import StatusLine
from swiftkit.serving.client import ask_all, progress_counter
from swiftkit.serving.pair import one_load, require_base


def read_prompts(path: Path) -> list[list[dict[str, Any]]]:
    """One conversation per non-empty line: plain text, or a JSON object with `messages`
    (ending with a user turn) or `query`/`instruction`/`prompt`."""
    refuse_unless_file(path, "the prompts file")  # a FIFO would be waited on for ever
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SwiftkitError.at(
            f"cannot read prompts: {path}",
            str(path),
            exc.strerror or str(exc),
            fix="check the path",
        ) from None
    out: list[list[dict[str, Any]]] = []
    for row in jsonl.rows(text):
        value = row.value if row.ok else None
        problem = None
        if not isinstance(value, dict):  # plain text, even text that happens to be JSON
            out.append([{"role": "user", "content": row.text}])
        elif isinstance(value.get("messages"), list):
            msgs = list(value["messages"])
            if msgs and isinstance(msgs[-1], dict) and msgs[-1].get("role") == "assistant":
                msgs = msgs[:-1]
            if msgs and all(isinstance(m, dict) and {"role", "content"} <= m.keys() for m in msgs):
                out.append(msgs)
            else:
                problem = "'messages' needs turns with role and content, ending with a question"
        elif any(k in value for k in ("query", "instruction", "prompt")):
            q = value.get("query") or value.get("instruction") or value.get("prompt")
            if value.get("input"):
                q = f"{q}\n{value['input']}"
            out.append([{"role": "user", "content": str(q)}])
        else:
            problem = "a JSON line needs 'messages' or 'query'"
        if problem:
            raise SwiftkitError.at(
                f"unreadable prompt in {path}",
                str(path),
                problem,
                line=row.line,
                fix="one prompt per line, plain text or JSON",
            )
    if not out:
        raise SwiftkitError.at(f"no prompts in {path}", str(path), "the file has no prompt")
    return out


def execute(
    spec: str | None,
    output_dir: Path | None,
    echo: Echo,
    prompts: tuple[str, ...] = (),
    file: Path | None = None,
    as_json: bool = False,
    base: bool = False,
    max_new_tokens: int = defaults.INFER_MAX_NEW_TOKENS,
    compare: bool = False,
    status_echo: Echo | None = None,
    trust_remote_code: bool = False,
) -> int:
    conversations = [[{"role": "user", "content": p}] for p in prompts]
    if file is not None:
        conversations += read_prompts(file)
    if not conversations:
        raise SwiftkitError.at(
            "nothing to ask", "infer", "no --prompt and no --file", fix="add --prompt '你是谁?'"
        )
    target = open_target(
        "infer", spec, output_dir, None if as_json else echo, trust_remote_code, base
    )
    if compare:
        require_base(target)
    work = target.run_dir / "infer" if target.run_dir is not None else None
    with launch.stoppable(), StatusLine(status_echo or echo) as status:
        with one_load(target, work, status) as served:
            models = {
                "adapter": None if base else served.adapter,
                "base": served.base if base or compare else None,
            }
            counter = partial(progress_counter, status)
            answers = {
                side: ask_all(served.endpoint, model, conversations, max_new_tokens, counter(side))
                for side, model in models.items()
                if model
            }
    after, before = answers.get("adapter", []), answers.get("base", [])
    if as_json:
        rows = []
        for i, c in enumerate(conversations):
            row: dict[str, Any] = {"prompt": c[-1]["content"], "messages": c}
            for side, got in answers.items():  # a base answer is base_answer only beside another
                key = "base_" if side == "base" and compare else ""
                row |= {f"{key}answer": got[i].text, f"{key}finish_reason": got[i].finish_reason}
            rows.append(row)
        payload = {
            "checkpoint": str(target.checkpoint),
            "base": base,
            "compare": compare,
            "models": models,
            "answers": rows,
        }
        echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    for i, c in enumerate(conversations):
        echo(f"Q: {c[-1]['content']}")
        if compare:
            echo(f"base ({served.base}): {before[i].text}")
            echo(f"adapter ({served.adapter}): {after[i].text}")
        else:
            echo(f"A: {(before or after)[i].text}")
    return 0


@target_command("infer")
@click.option("--prompt", "-p", "prompts", multiple=True, help="A question (repeatable).")
@click.option(
    "--file",
    "-f",
    type=click.Path(path_type=Path),
    help="Questions, one a line: plain text or JSON with messages/query.",
)
@click.option("--json", "as_json", is_flag=True, help="Answers as JSON, for scripts.")
@click.option("--base", is_flag=True, help="Ask the untouched base model instead.")
@click.option(
    "--compare", is_flag=True, help="Ask the base model and the adapter (one model load)."
)
@click.option(
    "--max-new-tokens",
    default=defaults.INFER_MAX_NEW_TOKENS,
    show_default=True,
    type=click.IntRange(1),
)
def infer_command(**options: Any) -> int:
    """Answer questions without a chat session (greedy, through `swift deploy`)."""
    if options["base"] and options["compare"]:
        raise click.UsageError("--base or --compare, not both")
    return execute(echo=click.echo, status_echo=to_stderr, **options)
