"""Answers from `swift infer`: batch, greedy, the template and system prompt from the
checkpoint's args.json. Used by verify (probes) and `swiftkit infer` (prompts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swiftkit import jsonl
from swiftkit.child import launch
from swiftkit.errors import SwiftkitError
from swiftkit.render import helpers


def ask(
    checkpoint: Path,
    conversations: list[list[dict[str, Any]]],
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
    answers = [str(v.get("response", "")) for v in jsonl.values(results) if isinstance(v, dict)]
    if len(answers) != len(conversations):
        raise SwiftkitError.at(
            f"swift infer returned {len(answers)} answers for {len(conversations)} questions",
            str(results),
            "answers missing",
            fix=f"see {log}",
        )
    return answers
