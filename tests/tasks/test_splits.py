"""Seeded splits and samples depend on the seed and the content, not file order."""

from __future__ import annotations

from star.tasks import splits
from star.tasks.base import Problem, content_hash
from star.tasks.parsing import Example


def _examples(count: int) -> list[Example]:
    out = []
    for n in range(count):
        key = content_hash(f"question {n}")
        out.append(Example(Problem(uid=key, question=f"question {n}", gold=str(n)), key, f"line {n + 1}"))
    return out


def test_hold_out_ignores_file_order_and_keeps_it() -> None:
    examples = _examples(50)
    train, held = splits.hold_out(examples, 0.2, seed=3)
    train_rev, held_rev = splits.hold_out(examples[::-1], 0.2, seed=3)
    assert len(held) == 10 and len(train) == 40
    assert {e.key for e in held} == {e.key for e in held_rev}
    assert held == [e for e in examples if e in held]  # file order kept
    assert {e.key for e in splits.hold_out(examples, 0.2, seed=4)[1]} != {e.key for e in held}


def test_hold_out_keeps_one_of_each_when_it_can() -> None:
    assert [len(part) for part in splits.hold_out(_examples(2), 0.01, seed=0)] == [1, 1]
    assert [len(part) for part in splits.hold_out(_examples(3), 0.99, seed=0)] == [1, 2]


def test_adding_rows_keeps_most_of_a_sample() -> None:
    examples = _examples(200)
    before = {e.key for e in splits.sample(examples[:150], 30, seed=0, salt="train")}
    after = {e.key for e in splits.sample(examples, 40, seed=0, salt="train")}
    assert len(before & after) >= 25


def test_dedup_keeps_the_first() -> None:
    examples = _examples(3)
    twin = Example(examples[1].problem, examples[1].key, "line 9")
    kept, dropped = splits.dedup(examples + [twin])
    assert (kept, dropped) == (examples, 1)
