"""check_steps: exact verification of calculator annotations and arithmetic lines."""

from __future__ import annotations

from star.checker import StepVerdict, check_steps


def test_correct_annotations_and_lines() -> None:
    rationale = (
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
        "Natalia sold 48+24 = <<48+24=72>>72 clips altogether.\n"
        "7+5+1=13\n"
        "Weng earns 0.2 x 50 = $10.\n"
        "#### 72"
    )
    verdict = check_steps(rationale)
    assert verdict == StepVerdict(ok=True, first_wrong_index=None, first_wrong_text=None, checked=4)


def test_first_wrong_step_is_reported() -> None:
    rationale = "So 3*4 = <<3*4=12>>12.\nThen 12+5=18\nAnd 2*9=<<2*9=19>>19"
    verdict = check_steps(rationale)
    assert not verdict.ok
    assert verdict.first_wrong_index == 1
    assert verdict.first_wrong_text == "12+5=18"
    assert verdict.checked == 2


def test_wrong_annotation() -> None:
    verdict = check_steps("She has <<48/2=25>>25 left")
    assert (verdict.ok, verdict.first_wrong_index, verdict.first_wrong_text) == (False, 0, "<<48/2=25>>")


def test_exact_not_float() -> None:
    assert check_steps("<<0.1+0.2=0.3>>").ok
    assert not check_steps("<<0.1+0.2=0.30000000000000004>>").ok
    assert check_steps("<<123456789012345678901+1=123456789012345678902>>").ok
    assert not check_steps("<<123456789012345678901+1=123456789012345678901>>").ok


def test_rounded_results_agree_to_their_own_precision() -> None:
    assert check_steps("<<10/3=3.33>>").ok
    assert check_steps("<<2/3=0.67>>").ok
    assert not check_steps("<<10/3=3.4>>").ok
    assert not check_steps("<<10/3=3>>").ok  # an integer result must be exact


def test_percent_results() -> None:
    assert check_steps("blue flowers are (4/10)*100=<<4/10*100=40>>40%.").ok
    assert check_steps("so 100% - 80% = 20 % were children").ok


def test_not_plain_arithmetic_is_not_checked() -> None:
    for text in (
        "2x + 3 = 7",  # algebra
        "y + 3 + 4 = 12",  # tail of an expression
        "at 6:00+48=6:48 PM",  # clock time
        "it takes 17/3 = 5 and 2/3 loads",  # mixed number
        "$2000 / 2/3 = $3000",  # ambiguous division
        "<<x*2=10>>",
        "no arithmetic here",
    ):
        verdict = check_steps(text)
        assert verdict.ok and verdict.checked == 0, text


def test_operator_spacing_decides_what_a_statement_is() -> None:
    scratchpad = "482+39 1+7=8 >8\n48+3 2+9=11 >18\n4+ 8+3+1=12 >218\n+ 4+0+1=5 >5218\nAnswer: 5218\n"
    assert check_steps(scratchpad).ok
    verdict = check_steps("so ( 4 * 5 ) = 20 and 0.2 x 50 = 10 and 48 + 24 = 72")
    assert verdict.ok and verdict.checked == 3


def test_huge_powers_are_refused_not_computed() -> None:
    verdict = check_steps("<<9^9^9^9=1>> and 2^2^2^2^2^2=5")
    assert verdict.ok and verdict.checked == 0


def test_gsm8k_annotations_all_check(gsm8k_rows: list[dict[str, str]]) -> None:
    checked = wrong = 0
    for row in gsm8k_rows:
        for annotation in row["answer"].split("<<")[1:]:
            verdict = check_steps("<<" + annotation.split(">>")[0] + ">>")
            checked += verdict.checked
            wrong += not verdict.ok
    assert checked > 27_000
    assert wrong == 0


def test_gsm8k_references_are_rarely_flagged(gsm8k_rows: list[dict[str, str]]) -> None:
    # The few flags are statements that are false as written (typos in the
    # dataset); a rise means correct rationales are being flagged.
    flagged = [check_steps(row["answer"]).first_wrong_text for row in gsm8k_rows]
    wrong = [text for text in flagged if text is not None]
    assert "192*100=$1920" in wrong and "$32 - $20 = $300" in wrong
    assert len(wrong) <= 18


def test_steps_on_consecutive_lines_are_each_checked() -> None:
    verdict = check_steps("48/2 = <<48/2=24>>24 clips\n7+5+1=13\n2*3=7")
    assert (verdict.ok, verdict.first_wrong_index, verdict.first_wrong_text, verdict.checked) == (False, 2, "2*3=7", 3)
