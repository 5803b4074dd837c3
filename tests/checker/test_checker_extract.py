"""Finding the final answer in free text."""

from __future__ import annotations

import pytest

from star.checker.core import judge
from star.checker.extract import extract


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so x = 3 and \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
        ("\\boxed{\\{1, 2\\}} is the set", "\\{1, 2\\}"),  # escaped braces do not close the box
        ("first \\boxed{3}, then after checking \\boxed{4}", "4"),
        ("\\fbox{7} is it", "7"),
        ("Natalia sold 48+24 = 72 clips.\n#### 72", "72"),
        ("The answer is 72.", "72"),
        ("Answer: 5218", "5218"),
        ("I think the final answer is $28 \\%$. I hope it is correct.", "$28 \\%$"),
        ("Final Answer: The largest $n$ is 34.", "34"),
        ("The answer is 5. Wait, I made an error. The answer is 7.", "7"),
        ("We get **42** in total.", "42"),
        ("It costs 12 dollars and then 15 more, so 27", "27"),
    ],
)
def test_extracts_the_stated_answer(text: str, answer: str) -> None:
    found = extract(text)
    assert found is not None
    assert found.text == answer


def test_boxes_joined_by_and_form_one_list() -> None:
    found = extract("The roots are \\boxed{-2} and \\boxed{1}.")
    assert found is not None and found.parts == ("-2", "1")


def test_boxes_separated_by_prose_do_not_join() -> None:
    found = extract("\\boxed{1} no no no no no \\boxed{2}")
    assert found is not None and found.parts == ("2",)


@pytest.mark.parametrize("text", ["", "  ", "no numbers here at all", "AZYUK2A", "\\boxed{}", "$$"])
def test_nothing_to_extract(text: str) -> None:
    assert judge(text, "2").status == "no_answer"


def test_a_lone_unbalanced_box_is_unparseable() -> None:
    verdict = judge("\\boxed{2", "2")
    assert verdict.status == "unparseable" and not verdict.correct


def test_a_cut_off_last_box_is_not_replaced_by_an_earlier_answer() -> None:
    # "\\boxed{25" may be the start of "\\boxed{256}": nothing reliable was stated.
    assert judge("\\boxed{5} and then \\boxed{6", "5").status == "unparseable"
    assert judge("so the answer is \\boxed{25", "25").status == "unparseable"
    assert judge("\\boxed{2 then \\boxed{5}", "5").correct


def test_prose_after_answer_marker_is_not_an_answer() -> None:
    verdict = judge("\\boxed{5}. Let me double check the answer is correct.", "5")
    assert verdict.correct and verdict.extracted == "5"


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("The total is $1,234.", "1234"),
        ("That is 3\\text{ cm}^2 of paper, so \\boxed{3\\text{ cm}^2}", "3"),
        ("\\boxed{90^\\circ}", "90"),
        ("\\boxed{\\$16,\\!386.20}", "16386.20"),
        ("He pays €1,000.99 in total", "1000.99"),
        ("The answer is 18.", "18"),
        ("The answer is 1 000.", "1000"),
    ],
)
def test_surface_noise_is_stripped(prediction: str, gold: str) -> None:
    assert judge(prediction, gold).correct


def test_multi_line_rationale_without_marker_uses_its_last_number() -> None:
    scratchpad = "482+39 1+7=8 >8\n48+3 2+9=11 >18\n4+ 8+3+1=12 >218\n+ 4+0+1=5 >5218"
    verdict = judge(scratchpad, "5218")
    assert verdict.correct and verdict.extracted == "5218"


def test_a_following_exercise_is_not_part_of_the_answer() -> None:
    assert judge("So she has 5 apples left.\n\nQ: Tom has 3 apples. How many?", "5").correct
    assert judge("#### 72\n\nQuestion: Weng earns $12 an hour ... #### 10", "72").correct


def test_loop_formats_extract() -> None:
    assert judge("1234\n+3984\n-----\nAnswer: 5218", "5218").correct
    assert judge("She has 8*9 = <<8*9=72>>72 apples.\n#### 72", "72").correct
    assert judge("So in total she has 72 apples. The answer is 72.", "72").correct
    assert not judge("Answer: 5217", "5218").correct
