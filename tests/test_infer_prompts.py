"""`swiftkit infer --file`: each line a plain prompt or a JSON object (read with jsonl.py)."""

from __future__ import annotations

import json

import pytest

from swiftkit.commands.infer import read_prompts
from swiftkit.errors import SwiftkitError


def prompts(tmp_path, *lines: str, bom: bool = False) -> list[list[dict]]:
    f = tmp_path / "q.txt"
    f.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return read_prompts(f)


def test_plain_lines_stay_plain_even_when_they_parse_as_json(tmp_path):
    got = prompts(tmp_path, "42", '"quoted"', "[1, 2]", "{not json", "  你是谁?  ")
    assert [c for c in got] == [
        [{"role": "user", "content": t}]
        for t in ("42", '"quoted"', "[1, 2]", "{not json", "  你是谁?  ")
    ]


def test_json_lines_give_messages_or_a_query_with_its_input(tmp_path):
    turns = [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]
    got = prompts(
        tmp_path,
        json.dumps({"messages": [*turns, {"role": "assistant", "content": "old answer"}]}),
        json.dumps({"instruction": "translate", "input": "猫"}, ensure_ascii=False),
        json.dumps({"prompt": "p"}),
    )
    assert got == [
        turns,
        [{"role": "user", "content": "translate\n猫"}],
        [{"role": "user", "content": "p"}],
    ]


def test_a_json_line_after_a_byte_order_mark_is_json(tmp_path):
    """Bug: the first line kept its byte-order mark, so a JSON prompt there was sent as its
    raw text."""
    got = prompts(tmp_path, json.dumps({"query": "你好"}, ensure_ascii=False), bom=True)
    assert got == [[{"role": "user", "content": "你好"}]]


@pytest.mark.parametrize(
    "messages",
    [[], [{"role": "assistant", "content": "only an answer"}], ["hi"], [{"content": "no role"}]],
    ids=["empty", "answer-only", "not-an-object", "no-role"],
)
def test_messages_without_a_question_are_refused_with_the_line(tmp_path, messages):
    """Bug: these crashed read_prompts (AttributeError), or passed as an empty conversation
    (IndexError later) or a turn without a role that swift infer cannot take."""
    with pytest.raises(SwiftkitError) as exc:
        prompts(tmp_path, "first", json.dumps({"messages": messages}))
    text = exc.value.format()
    assert "unreadable prompt" in text and "q.txt:2" in text and "'messages' needs turns" in text


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_prompts_file_that_is_a_fifo_or_a_folder_is_refused_by_name(tmp_path, kind):
    """Bug: `infer --file q.txt` on a FIFO waited for ever (a hostile input found this round)."""
    import os

    f = tmp_path / "q.txt"
    os.mkfifo(f) if kind == "fifo" else f.mkdir()
    with pytest.raises(SwiftkitError) as err:
        read_prompts(f)
    said = {"fifo": "named pipe (FIFO)", "folder": "is a folder"}[kind]
    assert said in err.value.message and str(f) in err.value.message
