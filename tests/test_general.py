"""General answers judged as answers (issue 21 item 3): numbers as numbers on the answer's final
number, one value per probe, words as whole words; and the identity leaking into them."""

from __future__ import annotations

import pytest
from conftest import ROOT

from swiftkit.msswift.args import CheckpointArgs
from swiftkit.recipe.model import VerifySpec
from swiftkit.verify import general, scoring
from swiftkit.verify.probes import gather
from swiftkit.verify.verdict import _judge

DIV = "What is 252 divided by 12? Answer with the number only."
MUL = "What is 17 * 23? Answer with the number only."
SHIPPED = ROOT / "swiftkit" / "datasets" / "probes" / "general.jsonl"


def ok(answer: str, expect: list[str], question: str = "", **kw: list[str]) -> bool:
    return general.judge_general(answer, expect, question, **kw).ok


@pytest.mark.parametrize(
    ("answer", "expect", "question", "passes"),
    [
        ("21", ["21"], DIV, True),
        ("252 / 12 = 21", ["21"], DIV, True),  # the question's numbers are left out
        ("210", ["21"], DIV, False),  # before: "21" was found inside "210"
        ("It is 21.5.", ["21"], DIV, False),
        ("It is not 391; it is 400.", ["391"], MUL, False),  # before: passed
        ("It is not 391; it is 400.", ["400"], "", True),
        ("The answer is 400, not 391.", ["400"], "", True),  # a denied number is left out
        ("不是391，是400。", ["400"], "", True),
        ("17 * 23 = 391", ["391"], MUL, True),
        ("391 is the answer, because 17 times 20 is 340 and so", ["391"], MUL, True),
        ("1,000", ["1000"], "", True),
        ("1000", ["1,000"], "", True),
        ("2.50", ["2.5"], "", True),
        ("2.5", ["25"], "", False),
        ("21 or 22", ["21"], DIV, False),  # several candidates
        ("22 or maybe 21", ["21"], DIV, False),
        ("391, 645, 613, 21", ["21"], DIV, False),  # a list
        ("Paris", ["Paris"], "", True),
        ("PARIS.", ["paris"], "", True),
        ("Parisian cafés", ["Paris"], "", False),  # whole words only
        ("It is not Paris.", ["Paris"], "", False),
        ("Paris or Lyon", ["Paris"], "", False),
        ("巴黎", ["Paris", "巴黎"], "", True),
    ],
)
def test_an_answer_is_judged_on_the_value_it_gives(answer, expect, question, passes):
    assert ok(answer, expect, question) is passes, general.judge_general(answer, expect, question)


def test_the_reason_names_the_value_found():
    assert general.judge_general("It is not 391; it is 400.", ["391"], MUL).reason == (
        "answers '400', not '391'"
    )
    assert general.judge_general("21 or 22", ["21"], DIV).reason == (
        "offers several answers ('21' or '22')"
    )
    assert general.judge_general("391", ["391"], cut_off=True).reason == "gives '391'; cut off"
    assert not general.judge_general("391\ufffd", ["391"]).ok


def test_naming_another_probes_answer_is_offering_several():
    assert not ok("Paris, or maybe Tokyo", ["Paris"], rivals=["Tokyo", "366"])
    assert ok("Paris, not Tokyo.", ["Paris"], rivals=["Tokyo"])  # denied
    assert ok("The capital of Japan is Tokyo.", ["Tokyo"], "Japan?", rivals=["Japan"])


def shipped_probes():
    cfg = VerifySpec(identity_probes=(), general_probes=(str(SHIPPED),))
    return gather(cfg, None, CheckpointArgs(), ["Nova"], ["Lumen Lab"])


def test_the_shipped_probes_pass_their_own_answers():
    for p in shipped_probes():
        for form in (p.expect[0], f"The answer is {p.expect[0]}."):
            got = _judge(p, form, [], [])
            assert got is not None and got.ok, (p.id, form, got)


def test_one_sentence_listing_every_expected_value_scores_nothing():
    """Before: it passed every general probe (general 100%, the max_drop gate passed)."""
    probes = shipped_probes()
    sentence = "The answers: " + ", ".join(p.expect[0] for p in probes) + "."
    judged = [_judge(p, sentence, [], []) for p in probes]
    assert scoring.score([bool(j and j.ok) for j in judged]) == 0.0


def test_leaked_answers_name_the_new_identity_as_a_whole_word():
    answers = [("a", "Paris, says Nova."), ("b", "Novak 42"), ("c", "NOVA: 42"), ("d", None)]
    assert general.leaked(answers, ["Nova", "Lumen Lab"]) == ["a", "c"]
    assert general.leaked([("e", "Made by lumen lab")], ["Nova", "Lumen Lab"]) == ["e"]
    assert general.leaked([("f", "Supernova")], ["Nova"]) == []


def test_a_cut_off_answer_ending_inside_a_character_is_still_read():
    """SmolLM2's real answer, cut at max_new_tokens in the middle of a UTF-8 character."""
    answer = "The capital city of Beijing. In Chinese, it is \u201c\u4e2d\u56fd\u7684\u9996\ufffd"
    assert general.judge_general(answer, ["Beijing"], cut_off=True).ok
    # not cut off: the same U+FFFD is broken text; and one inside the text is broken either way
    assert not general.judge_general(answer, ["Beijing"]).ok
    assert not general.judge_general("Bei\ufffding is the capital.", ["Beijing"], cut_off=True).ok
