"""A real SQLite store holding one finished-looking run, for `star report` tests.

The rows go in through db/store.py, as the loop writes them: three rounds, attempts of
every kind (one rationale carries markup, one check timed out), every metric family
the evaluation stores (and one nobody knows yet), timings, counts and models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result

from db.engine import open_store, session_factory
from db.store import (
    AttemptRow,
    ProblemRow,
    get_or_create_round,
    get_or_create_run,
    insert_attempts,
    record_evaluation,
    record_model,
    update_round,
    upsert_problems,
)
from star.cli import cli, register_commands

register_commands()

RUN = "demo"
HINT = "(hint: the answer is 7)"
MARKUP = "<script>alert('pwned')</script> & <b>bold</b>"
CONFIG = {"rounds": 2, "model": "tiny", "evaluation": {"samples": 8, "k": 8, "temperature": 0.7},
          "database": "postgresql+psycopg://star:s3cret@db.example:5432/star"}
# metric -> value per round 0, 1, 2: overall and per digit count, for every family,
# plus one family the report has never heard of.
FAMILIES = {"accuracy": (0.25, 0.5, 0.625), "maj@8": (0.3, 0.55, 0.7), "pass@8": (0.6, 0.8, 0.9),
            "best_of_n": (0.35, 0.6, 0.75), "weighted_best_of_n": (0.375, 0.65, 0.8125),
            "self_check@4": (0.1, 0.2, 0.3)}
TIMINGS = {"generate": 12.5, "rationalize": 4.25, "train": 30.0, "evaluate": 6.0}

#: what a finished round keeps of its exploration (db/exploration.py): round 0 only held-out answers
EXPLORED = {
    0: {"heldout_greedy": 4, "heldout_greedy_steps": 4, "heldout_right": 1, "heldout_right_work": 1},
    1: {"pool_problems": 8, "pool_solved_any": 4, "pool_solved_all": 2, "pool_correct_paths": 6, "new_paths": 5,
        "refused_no_work": 2, "heldout_greedy": 4, "heldout_greedy_steps": 3, "heldout_right": 2,
        "heldout_right_work": 1},
    2: {"pool_problems": 8, "pool_solved_any": 6, "pool_solved_all": 3, "pool_correct_paths": 9, "new_paths": 4,
        "refused_answer_first": 1, "heldout_greedy": 4, "heldout_greedy_steps": 2, "heldout_right": 2,
        "heldout_right_work": 0},
}


def attempt(round_id: int, problem_id: int, kind: str, sample: int, *, ok: bool, completion: str,
            prompt: str = "Q: 3 + 4 = ?\nA:", status: str | None = None) -> AttemptRow:
    return AttemptRow(
        round_id=round_id, problem_id=problem_id, kind=kind, sample_index=sample,
        prompt=prompt, train_prompt="Q: 3 + 4 = ?\nA:", completion=completion,
        extracted="7" if ok else "8", status=status or ("correct" if ok else "incorrect"), correct=ok,
        accepted=ok and kind != "eval", steps_ok=None, prompt_tokens=7, completion_tokens=12, model="tiny")


def seed(url: str) -> None:
    engine = open_store(url)
    try:
        with session_factory(engine).begin() as s:
            run = get_or_create_run(s, RUN, config=CONFIG, base_model="tiny-base")
            train = upsert_problems(s, "arith", "train", [
                ProblemRow(f"p{i}", f"{i} + 4 = ?", "7", {"digits": 1}) for i in range(4)])
            evals = upsert_problems(s, "arith", "eval", [ProblemRow("e0", "3 + 4 = ?", "7", {"digits": 1})])
            rounds = {i: get_or_create_round(s, run, i) for i in range(3)}
            rows = [attempt(rounds[0].id, evals["e0"], "eval", 0, ok=True, completion=" 3 + 4 = 7. answer 7"),
                    attempt(rounds[0].id, evals["e0"], "eval", 1, ok=False, completion=" eval-wrong answer 8")]
            r1 = rounds[1].id
            rows += [attempt(r1, train["p0"], "direct", 0, ok=True, completion=" direct-right answer 7"),
                     attempt(r1, train["p1"], "direct", 0, ok=False, completion=f" {MARKUP} answer 8"),
                     attempt(r1, train["p2"], "rationalized", 0, ok=True, prompt=f"Q: 3 + 4 = ? {HINT}\nA:",
                             completion=" rationalized-right 3 + 4 = 7. answer 7"),
                     attempt(r1, train["p3"], "direct", 0, ok=False, completion=" slow-check answer 8",
                             status="timeout")]
            insert_attempts(s, rows)
            for index, rnd in rounds.items():
                for family, values in FAMILIES.items():
                    record_evaluation(s, rnd, split="eval", metric=family, value=values[index])
                    for digits in (1, 2):
                        record_evaluation(s, rnd, split="eval", metric=f"{family}/digits={digits}",
                                          value=values[index] / digits)
                record_model(s, run=run, round_index=index, path=f"/ckpt/round-{index}" if index else "tiny-base",
                             parent=None if index == 0 else ("tiny-base" if index == 1 else "/ckpt/round-1"),
                             base="tiny-base", train_examples=4 * index, steps=3 * index,
                             metrics={"train_loss": 1.5 / (index + 1)} if index else {})
            for index in (1, 2):
                update_round(s, rounds[index], status="done", timings=TIMINGS, counts={
                    "attempted": 8, "accepted_direct": 3, "accepted_rationalized": index,
                    "train_examples": 3 + index, "train_steps": 5, "check_errors": 1 if index == 1 else 0,
                    **EXPLORED[index]})
            update_round(s, rounds[0], status="done", timings={"evaluate": 2.0}, counts=EXPLORED[0])
    finally:
        engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> str:
    """URL of a SQLite store holding the run `demo`."""
    url = f"sqlite:///{tmp_path}/star.db"
    seed(url)
    return url


def star(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html of `star report demo` (drawn once per module: the charts take seconds); read only."""
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder}/star.db"
    seed(url)
    result = star("report", RUN, "--db", url, "--out", str(folder / "report"))
    assert result.exit_code == 0, result.output
    return folder / "report" / "index.html"


@pytest.fixture(name="star")
def star_fixture() -> Callable[..., Result]:
    """The CLI runner for test modules (tests/ is not a package, so they cannot import it)."""
    return star


@pytest.fixture
def facts() -> SimpleNamespace:
    """What `seed` stored, for assertions."""
    return SimpleNamespace(run=RUN, hint=HINT, markup=MARKUP, config=CONFIG, families=FAMILIES, timings=TIMINGS)
