"""Ask a trained adapter (or its base model) questions through `swift infer` in batch mode."""

from __future__ import annotations

import json
from pathlib import Path

from swiftkit import launch, render
from swiftkit.errors import Finding, SwiftkitError


def ask(
    checkpoint: Path,
    conversations: list[list[dict]],
    work_dir: Path,
    base: bool = False,
    max_new_tokens: int = 256,
    tag: str = "probe",
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
    command = render.render_infer(checkpoint, questions, results, max_new_tokens, base=base)
    log = work_dir / f"{tag}-{k}.log"
    result = launch.run(command, log_path=log)
    if result.returncode != 0 or not results.is_file():
        raise SwiftkitError(
            f"swift infer failed (exit {result.returncode}); no answers",
            [
                Finding(
                    "error",
                    str(log),
                    "\n".join(result.tail[-15:]) or "no output",
                    fix=f"see the full log: {log}",
                )
            ],
        )
    answers = []
    for line in results.read_text(encoding="utf-8").splitlines():
        if line.strip():
            answers.append(json.loads(line).get("response", ""))
    if len(answers) != len(conversations):
        raise SwiftkitError(
            f"swift infer returned {len(answers)} answers for {len(conversations)} questions",
            [Finding("error", str(results), "answers missing", fix=f"see {log}")],
        )
    return answers
