"""The work rules (star/checker/work.py): a right rationale must do the work, not restate the hinted answer.

Adversarial rationales come from what SmolLM2 learned to write from leaked hints
(issue 23): `Answer: 4`, `The answer is 14`, the question restated and then the
number, the answer in another format, spelled out or repeated.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from star.checker.work import (
    ANSWER_FIRST,
    NO_WORK,
    NOT_COMPUTED,
    mentions,
    number_work_refusal,
    own_words,
    path_key,
    spelled_value,
    step_path,
    text_work_refusal,
    words_work_refusal,
)

DATA = Path(__file__).parents[1] / "data"
PROMPTS = Path(__file__).parents[2] / "star" / "tasks" / "prompts"
QUESTION = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
WORKED = ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
          "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72")


def test_a_worked_solution_passes() -> None:
    assert number_work_refusal(WORKED, "72", QUESTION) is None
    assert number_work_refusal("She sold 48 / 2 = 24 in May, so 48 + 24 = 72 in all. The answer is 72.",
                               "72", QUESTION) is None


@pytest.mark.parametrize("text", [
    "Answer: 72", "The answer is 72.", "72", "#### 72", "@Raz: 72\n@Raz: 72",
    f"{QUESTION} So the answer is 72.",  # the question restated, then the hinted number
    "The answer is 72.\nAnswer: 72",
    "Answer: 48+24=72",  # the only step sits in the answer line
])
def test_no_step_outside_the_answer_line_is_no_work(text: str) -> None:
    assert number_work_refusal(text, "72", QUESTION) == NO_WORK


@pytest.mark.parametrize("text", [
    "The answer is 72. Check:\n48+24=72\n#### 72",
    "72 clips.\n48/2=24\n48+24=72\n#### 72",
    "We know it is 72,000 thousandths... 72.\n48+24=72\n#### 72",
    "The hint says $72.00.\n48+24=72\n#### 72",  # another format of the same number
    "Seventy-two clips in all.\n48+24=72\n#### 72",  # spelled out
    "72 72 72 72 72 72\n48+24=72\nAnswer: 72",  # repeated many times
])
def test_the_answer_before_the_step_that_computes_it_is_refused(text: str) -> None:
    assert number_work_refusal(text, "72", QUESTION) == ANSWER_FIRST


@pytest.mark.parametrize("text", [
    "It is 72.\n3*4=12\nAnswer: 72",  # work that never computes the answer, after stating it
    "Twice the kittens is 32*2 = 64\nThe answer is 72.",  # right arithmetic beside the hinted number
    "She sold 48/2 = 24 in May.\nSo in all she sold seventy-two.\n#### 72",  # the last step in words
])
def test_an_answer_no_step_computes_is_refused(text: str) -> None:
    assert number_work_refusal(text, "72", QUESTION) == NOT_COMPUTED


def test_a_result_stated_on_its_own_line_is_fine() -> None:
    text = "He eats 48 pieces because 32 + 16 = 48\n#### 48"
    assert number_work_refusal("He eats 32 because 2 x 16 = 32\n" + text, "48", "pizza") is None


def test_a_gold_number_that_the_question_contains_is_not_judged_by_order() -> None:
    question = "Tom has 5 apples and eats none. How many are left?"
    assert number_work_refusal("5 apples.\n5-0=5\nAnswer: 5", "5", question) is None
    assert number_work_refusal("Answer: 5", "5", question) == NO_WORK


def test_a_wrong_step_is_not_work() -> None:
    assert number_work_refusal("48+24=73\nAnswer: 72", "72", QUESTION) == NO_WORK


def test_mentions_find_every_written_form_and_not_divisions() -> None:
    text = "5 and 1,080 and $1080.00 and one thousand and eighty; 2160/2 = 1080"
    assert len(mentions(text, Fraction(1080))) == 4
    assert mentions("120/24 = 5 hours", Fraction(5)) == [9]  # "120/24" is not a mention of 5
    assert mentions("3/4 of it", Fraction(3, 4)) == [0]
    assert mentions("10-3=7", Fraction(3)) == [3]  # a minus sign after a digit is an operator
    assert spelled_value("one hundred and five") == 105
    assert spelled_value("twenty-one thousand") == 21000


def test_multiple_choice_needs_a_reason_of_its_own() -> None:
    given = ["What home entertainment equipment requires cable?", "radio shack", "substation", "television",
             "cabinet"]
    assert words_work_refusal("The answer must require cable. Of the above choices, only television requires "
                              "cable. So the answer is (C).", given) is None
    for bare in ["So the answer is (C).", "The hint says (C), so the answer is (C).",
                 "Of the above choices, television is right. The answer is (C).",
                 "television television television television (C)"]:
        assert words_work_refusal(bare, given) == NO_WORK, bare
    assert own_words("Cable TELEVISION needs wiring", given) == {"needs", "wiring"}


def test_every_shipped_worked_example_passes_its_rule() -> None:
    for shot in json.loads((PROMPTS / "multiple_choice_shots.json").read_text()):
        given = [shot["question"], *shot["choices"]["text"]]
        assert words_work_refusal(shot["rationale"], given) is None, shot["rationale"]
    for shot in json.loads((PROMPTS / "math_shots.json").read_text()):
        assert text_work_refusal(shot["solution"], [shot["problem"], shot["answer"]]) is None, shot["solution"]
    assert text_work_refusal("\\boxed{24}", ["Find the determinant.", "24"]) == NO_WORK


def test_gsm8ks_own_reference_solutions_almost_all_pass() -> None:
    """The rule's false refusals on human-written work (2026-12-07, 8,792 reference solutions): 4.1% as
    written, 9.5% with the calculator annotations removed (the shots' format); mostly a last step the
    step checker does not read (`20% of 50 is 10`, algebra: `3p = $3000`), or a small answer that is also
    an earlier quantity ("7 days in a week" when the answer is 7)."""
    refused = {"annotated": 0, "plain": 0}
    total = 0
    for split in ("train", "test"):
        for line in (DATA / "gsm8k" / f"{split}.jsonl").read_text().splitlines():
            row = json.loads(line)
            gold = row["answer"].split("####")[-1].strip().replace(",", "")
            plain = re.sub(r"<<[^>]*>>", "", row["answer"])
            refused["annotated"] += number_work_refusal(row["answer"], gold, row["question"]) is not None
            refused["plain"] += number_work_refusal(plain, gold, row["question"]) is not None
            total += 1
    assert total > 8000
    assert refused["annotated"] / total < 0.05 and refused["plain"] / total < 0.11


def test_grouped_thousands_are_steps_to_the_work_rule() -> None:
    text = "The truck costs $30,000+$7500+$2500+$2000+$1500=$43,500\nThe answer is 43500."
    assert number_work_refusal(text, "43500", "truck") is None


def test_steps_with_units_are_work() -> None:
    text = ("Jasmine had 15 stickers - 7 stickers = 8 stickers after losing 7.\n"
            "Then she has 8 stickers + 5 stickers = 13 stickers at the end.\nThe answer is 13.")
    assert number_work_refusal(text, "13", "stickers") is None
    assert step_path(text) == "15-7=8;8+5=13"
    assert number_work_refusal("30 snakes * 3 birds/snake = 90 birds\n#### 90", "90", "q") is None
    assert number_work_refusal("8 stickers + 5 stickers = 14 stickers\nThe answer is 13.", "13", "q") == NO_WORK


def test_reasoning_paths_ignore_wording_but_not_steps() -> None:
    one = "Half of 48 is 48/2 = 24.\nIn all 48 + 24 = 72.\n#### 72"
    other = "May: 48 / 2 = $24\nTotal: 48+24=72 clips\nThe answer is 72"
    assert step_path(one) == step_path(other) == "48/2=24;48+24=72"
    assert step_path(WORKED) == "48/2=24;48+24=72"  # annotations read as their steps
    assert step_path("24 + 48 = 72\n#### 72") != step_path(one)
    assert step_path("The  Answer\n is B") == step_path("the answer is b")  # no steps: normalised text
    assert path_key(step_path(one)) == path_key(step_path(other)) and len(path_key("x")) == 16
