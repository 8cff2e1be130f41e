"""The scorer: every answer of tests/scoring_corpus.jsonl gets its expected verdict and reason
(zh and en: fluent answers, denials, the old identity, loops, broken text, cut-off answers,
name-only answers, typos), plus the rules the corpus cannot show one answer at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swiftkit.verify import general, scoring

CORPUS = Path(__file__).with_name("scoring_corpus.jsonl")
NEW = ["Nova", "Lumen Lab"]
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
# SmolLM2-135M-Instruct's own answers, base and trained (`swiftkit run recipes/smollm2-cpu.toml`
# with languages en + zh), each labelled by a person with the reason in their own words: the
# scorer must reach the same verdict (its wording may differ)
REAL_CORPUS = Path(__file__).with_name("scoring_corpus_real.jsonl")
REAL = [json.loads(line) for line in REAL_CORPUS.read_text(encoding="utf-8").splitlines() if line]


def judge(row: dict) -> scoring.Judgement:
    cut = bool(row.get("cut_off", False))
    if row.get("kind") == "general":
        return general.judge_general(row["answer"], row["expect"], cut_off=cut)
    new = row.get("new", NEW)
    old = scoring.old_markers(new, row.get("family", "qwen"))
    need = scoring.needs(row.get("asks"), new[:1], new[1:])
    question = row.get("question", "")
    return scoring.judge_identity(
        row["answer"], new, old, need=need, question=question, cut_off=cut
    )


def test_the_corpus_is_big_enough_and_bilingual():
    """Every row says where it came from; the hand-made and adversarial rows number 200+."""
    assert all(r.get("source") for r in ROWS)
    assert len([r for r in ROWS if r["source"] in ("hand", "adversarial")]) >= 200
    zh = [r for r in ROWS if any("\u4e00" <= ch <= "\u9fff" for ch in r["answer"])]
    assert len(zh) >= 20 and len(ROWS) - len(zh) >= 20
    assert {True, False} == {r["ok"] for r in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=[r["what"] for r in ROWS])
def test_corpus_answer_gets_its_verdict_and_reason(row):
    got = judge(row)
    assert (got.ok, row["reason"] in got.reason) == (row["ok"], True), got


def test_the_real_model_corpus_is_big_and_mixed():
    """100+ real answers: identity and general, base and adapter, passes and fails."""
    assert len(REAL) >= 100 and all(r["source"] == "real-smollm2" and r["reason"] for r in REAL)
    kinds = {(r.get("kind", "identity"), r["what"].split()[-1], r["ok"]) for r in REAL}
    assert {
        (k, w, ok)
        for k in ("identity", "general")
        for w in ("base", "adapter")
        for ok in (True, False)
    } - kinds <= {("identity", "base", True)}


@pytest.mark.parametrize("row", REAL, ids=[r["what"] for r in REAL])
def test_real_answer_gets_the_verdict_a_person_gave_it(row):
    assert judge(row).ok == row["ok"], (row["reason"], judge(row))


def test_the_reason_is_always_set():
    assert all(judge(r).reason for r in ROWS)


def test_the_issue_answer_that_passed_before_fails_now():
    """`Nova, Nova, Nova, L\\nNova, L\\ufffd么\\ufffd么` passed the old scorer (it names Nova)."""
    got = scoring.judge_identity("Nova, Nova, Nova, L\nNova, L\ufffd么\ufffd么", NEW, [])
    assert not got.ok and "U+FFFD" in got.reason


def test_a_perfect_answer_cut_off_at_max_new_tokens_fails():
    text = "I am Nova, made by Lumen Lab."
    assert scoring.judge_identity(text, NEW, scoring.old_markers(NEW)).ok
    got = scoring.judge_identity(text, NEW, scoring.old_markers(NEW), cut_off=True)
    assert got == scoring.Judgement(False, "cut off at max_new_tokens")


def test_a_sentence_looped_to_any_length_fails():
    for times in range(3, 12):
        text = "我是Nova，由Lumen Lab开发。" * times + "我是No"
        assert not scoring.judge_identity(text, NEW, []).ok, times


def test_the_family_comes_from_the_model_id_or_type():
    assert scoring.family_of("Qwen/Qwen2.5-7B-Instruct") == "qwen"
    assert scoring.family_of("/abs/.models/tiny-qwen2", "qwen2") == "qwen"
    assert scoring.family_of("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B") == "deepseek"
    assert scoring.family_of("meta-llama/Llama-3.1-8B-Instruct") == "llama"
    assert scoring.family_of("/models/mine", "chatglm4") == "chatglm"
    assert scoring.family_of("/models/mine", None) is None


def test_old_markers_are_every_vendor_the_base_family_first():
    """Not only the base model's family: an adapter claiming Claude or Llama fails as well."""
    qwen = scoring.old_markers(NEW, "qwen")
    assert qwen[0] == "Qwen" and set(qwen) == set(scoring.old_markers(NEW, None))
    for needed in ("通义千问", "阿里", "ChatGPT", "OpenAI", "Claude", "Anthropic", "Gemini"):
        assert needed in qwen
    for needed in ("Google", "Llama", "Meta", "ERNIE", "文心", "Baidu", "百度", "GLM", "智谱"):
        assert needed in qwen
    for needed in ("ChatGLM", "DeepSeek", "深度求索", "Mistral", "SmolLM", "Hugging Face"):
        assert needed in qwen
    assert {"Yi", "01.AI", "百川", "InternLM", "书生", "上海人工智能实验室"} <= set(qwen)


def test_a_marker_that_is_the_new_name_is_not_forbidden():
    assert "千问" not in scoring.old_markers(["千问"], "qwen")
    assert "通义千问" not in scoring.old_markers(["千问"], "qwen")


def test_nothing_measured_is_no_score():
    assert scoring.score([]) is None
    assert scoring.score([True, False]) == 0.5


@given(st.text(max_size=300))
def test_any_text_gets_a_judgement_with_a_reason(text):
    for got in (
        scoring.judge_identity(text, NEW, scoring.old_markers(NEW)),
        general.judge_general(text, ["x"]),
        general.judge_general(text, ["21"], "252 / 12?", rivals=["Paris"]),
    ):
        assert isinstance(got.ok, bool) and got.reason


@given(st.sampled_from(["Nova, ", "我是Nova", "Lumen Lab! ", "I am Nova. "]), st.integers(3, 30))
def test_any_piece_repeated_three_times_or_more_is_a_loop(piece, times):
    got = scoring.judge_identity(piece * times, NEW, [])
    assert not got.ok and "repeats itself" in got.reason


@pytest.mark.parametrize(
    "new", [NEW, ["Swift-Robot", "CSDN 迪菲赫尔曼"], ["Qwen-Helper", "阿里巴巴达摩院"]]
)
def test_every_shipped_identity_answer_passes_when_filled(new):
    """A model that learned its data perfectly passes: each answer of the shipped identity set
    (the one `swiftkit init` copies) that names the identity, filled with these names."""
    root = Path(__file__).resolve().parent.parent / "datasets"
    old = scoring.old_markers(new, "qwen")
    records = json.loads((root / "identity_full.json").read_text(encoding="utf-8"))
    records += json.loads((root / "self_cognition.json").read_text(encoding="utf-8"))
    answers = [
        r["output"].replace("{{NAME}}", new[0]).replace("{{AUTHOR}}", new[1]) for r in records
    ]
    named = [a for a in answers if new[0] in a or new[1] in a]
    assert len(named) >= 79
    assert [
        (a, scoring.judge_identity(a, new, old).reason)
        for a in named
        if not scoring.judge_identity(a, new, old).ok
    ] == []


def test_smollm2_is_its_own_family_with_its_old_identity():
    """SmolLM2's model_type is llama, but it calls itself SmolLM, made by Hugging Face."""
    family = scoring.family_of("HuggingFaceTB/SmolLM2-135M-Instruct", "llama")
    old = scoring.old_markers(["Nova", "Lumen Lab"], family)
    assert family == "smollm" and {"SmolLM", "Hugging Face"} <= set(old)
    said = "I am SmolLM, made by Hugging Face, but you can call me Nova."
    assert not scoring.judge_identity(said, ["Nova", "Lumen Lab"], old).ok
