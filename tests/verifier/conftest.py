"""Arithmetic rationales, right and wrong, in the task's own scratchpad format.

Wrong ones make the slips the tiny model makes: a column's digit sum off by
one, or a carry dropped; the lines after the slip follow from it, as a model's
would, so only the slip itself is wrong and the final answer is wrong too.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from db.engine import open_store, session_factory
from db.store import (
    AttemptRow,
    ProblemRow,
    get_or_create_round,
    get_or_create_run,
    insert_attempts,
    record_model,
    update_round,
    upsert_problems,
)
from star.tasks.arithmetic import render_prompt, render_rationale, sample_operand


def faulty_rationale(a: int, b: int, rng: random.Random) -> str:
    """A scratchpad for a+b with one slip (a digit sum off by one, or a dropped carry)."""
    columns = max(len(str(a)), len(str(b)))
    slip_at, slip = rng.randrange(columns), rng.choice(("sum", "carry"))
    rest_a, rest_b, carry, partial, lines = str(a), str(b), 0, "", []
    for column in range(columns + 1):
        if not (rest_a or rest_b or carry):
            break
        da, db = (int(rest_a[-1]) if rest_a else 0), (int(rest_b[-1]) if rest_b else 0)
        rest_a, rest_b = rest_a[:-1], rest_b[:-1]
        shown_carry, total = carry, da + db + carry
        if column == slip_at:
            if slip == "carry" and carry:
                shown_carry, total = 0, da + db
            else:
                total = total + 1 if total == 0 or rng.random() < 0.5 else total - 1
        partial = str(total % 10) + partial
        lines.append(f"{rest_a}+{rest_b} {da}+{db}{'+1' if shown_carry else ''}={total} >{partial}")
        carry = total // 10
    assert int(partial) != a + b
    return "\n".join(lines + [f"Answer: {int(partial)}"]) + "\n"


def arithmetic_pairs(seed: int, problems: int, digits: tuple[int, ...] = (2, 3),
                     exclude: set[tuple[int, int]] = frozenset()) -> list[dict[str, str]]:
    """One (prompt, chosen, rejected) row per problem, on distinct operand pairs."""
    rng = random.Random(seed)
    rows, seen = [], set(exclude)
    while len(rows) < problems:
        n = digits[len(rows) % len(digits)]
        a, b = sample_operand(rng, n), sample_operand(rng, n)
        if (a, b) in seen:
            continue
        seen.add((a, b))
        rows.append({"prompt": render_prompt(a, b), "chosen": render_rationale(a, b),
                     "rejected": faulty_rationale(a, b, rng), "operands": (a, b)})
    return rows


@pytest.fixture(name="arithmetic_pairs", scope="session")
def arithmetic_pairs_fixture() -> object:
    return arithmetic_pairs


@pytest.fixture(name="faulty_rationale", scope="session")
def faulty_rationale_fixture() -> object:
    return faulty_rationale


@dataclass(frozen=True)
class Stored:
    """An attempt to store: problem external id, kind, completion, verdict; the prompt is the problem's."""

    problem: str
    kind: str
    completion: str
    status: str = "correct"
    accepted: bool | None = None  # default: correct

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def question(external_id: str) -> str:
    return f"Q: {external_id}\n"


def store_run(url: str, run: str, rounds: dict[int, list[Stored]], *, done: tuple[int, ...],
              checkpoint: str | None = None) -> None:
    """A run in a real store: problems named by the attempts (`e...` held out, others training),
    rounds 0..max with these attempts, `done` rounds finished, and `checkpoint` recorded for each round >= 1.

    A rationalized attempt's prompt carries the hint; its training prompt is the problem's prompt.
    """
    engine = open_store(url)
    try:
        with session_factory(engine).begin() as s:
            run_row = get_or_create_run(s, run, config={}, base_model="tiny")
            names = sorted({a.problem for attempts in rounds.values() for a in attempts})
            ids = {}
            for split, wanted in (("train", [n for n in names if not n.startswith("e")]),
                                  ("eval", [n for n in names if n.startswith("e")])):
                ids.update(upsert_problems(s, "arith", split, [ProblemRow(n, n, "4", {}) for n in wanted]))
            for index in range(max(rounds) + 1):
                rnd = get_or_create_round(s, run_row, index)
                rows = [_row(rnd.id, ids[a.problem], a, sample) for sample, a in enumerate(rounds.get(index, []))]
                insert_attempts(s, rows)
                if index in done:
                    update_round(s, rnd, status="done")
                if checkpoint and index >= 1:
                    record_model(s, run=run_row, round_index=index, path=checkpoint, parent=None, base="tiny",
                                 train_examples=1, steps=1, metrics={})
    finally:
        engine.dispose()


def _row(round_id: int, problem_id: int, a: Stored, sample: int) -> AttemptRow:
    train_prompt = question(a.problem)
    prompt = train_prompt.replace("\n", " (hint: 4)\n") if a.kind == "rationalized" else train_prompt
    accepted = a.correct if a.accepted is None else a.accepted
    return AttemptRow(round_id=round_id, problem_id=problem_id, kind=a.kind, sample_index=sample, prompt=prompt,
                      train_prompt=train_prompt, completion=a.completion, extracted=None, status=a.status,
                      correct=a.correct, accepted=accepted, steps_ok=None, prompt_tokens=1, completion_tokens=1,
                      model="tiny")


@pytest.fixture(name="store_run", scope="session")
def store_run_fixture() -> object:
    return store_run


@pytest.fixture(name="stored", scope="session")
def stored_fixture() -> object:
    return Stored


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Torch on one thread for the test: the tiny model's 128-wide matrices gain nothing from more,
    and on a machine shared with other jobs, idle threads spinning made training and scoring 10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
