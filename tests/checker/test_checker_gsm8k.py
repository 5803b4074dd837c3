"""Every GSM8K reference solution is judged correct against its own gold answer."""

from __future__ import annotations

from star.checker import Checker


def test_every_reference_solution_is_correct(gsm8k_rows: list[dict[str, str]], pool: Checker) -> None:
    pairs = [(row["answer"], row["answer"].split("####")[-1].strip()) for row in gsm8k_rows]
    verdicts = pool.check_many(pairs)
    wrong = [(p[1], v) for p, v in zip(pairs, verdicts) if not v.correct]
    assert wrong == []
    assert len(verdicts) == len(gsm8k_rows)


def test_a_neighbouring_gold_is_rejected(gsm8k_rows: list[dict[str, str]], pool: Checker) -> None:
    pairs = [(row["answer"], str(int(row["answer"].split("####")[-1].replace(",", "")) + 1)) for row in gsm8k_rows[:500]]
    assert not any(v.correct for v in pool.check_many(pairs))
