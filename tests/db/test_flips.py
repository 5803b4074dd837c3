"""Flips (db/flips.py, the `problem_flips` view, `star flips`) on hand-built stores with known transitions.

Every test runs on SQLite and PostgreSQL. A letter per round: S solved, H hint-only, U unsolved,
- not attempted (training); R right, W wrong greedy answer (held-out, from round 0).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from db.errors import StoreError
from db.flips import run_flips
from db.store import AttemptVerdict, update_attempt_verdicts
from star.cli import cli, register_commands

register_commands()

TRAIN = {
    "a": "-UUSS",  # unsolved -> solved in round 3
    "b": "-SSUU",  # solved -> regressed in round 3
    "c": "-HUSS",  # hint-only in 1, unaided in 3 (and unsolved -> solved in 3)
    "d": "-SHSS",  # stable solved, but hint-only in 2 and unaided in 3
    "e": "-USUS",  # flickers: unsolved -> solved, settled in round 4
    "f": "-UUUU",  # stable unsolved
    "g": "-HHHH",  # only ever with the hint: stable unsolved, never unaided
    "h": "-SSSS",  # stable solved
    "i": "--U-S",  # attempted in rounds 2 and 4 only
}
EVALS = {"x": "WWRRR", "y": "RRRWW", "z": "RRRRR"}
GROUPS = {"f": 2, "g": 2, "h": 2, "i": 2}


@pytest.fixture
def flips_run(factory, build_states):
    return build_states(factory, "flippy", TRAIN, EVALS, GROUPS)


def names(listed: list[dict]) -> dict[str, int | None]:
    return {p["problem"]: p["round"] for p in listed}


def test_each_transition_is_counted_with_its_round(factory, flips_run) -> None:
    with factory() as s:
        found = run_flips(s, "flippy", split="train")
    assert (found["from"], found["to"], found["problems"]) == (1, 4, 9)
    assert found["counts"] == {"unsolved_to_solved": 4, "solved_to_regressed": 1, "hint_only_to_unaided": 2,
                               "stable_solved": 2, "stable_unsolved": 2}
    lists = found["lists"]
    assert names(lists["unsolved_to_solved"]) == {"a": 3, "c": 3, "e": 4, "i": 4}
    assert names(lists["solved_to_regressed"]) == {"b": 3}
    assert {p["problem"]: (p["hint_round"], p["round"]) for p in lists["hint_only_to_unaided"]} == {
        "c": (1, 3), "d": (2, 3)}
    assert names(lists["stable_solved"]) == {"d": None, "h": None}
    assert names(lists["stable_unsolved"]) == {"f": None, "g": None}
    assert found["by_round"] == [
        {"round": 3, "unsolved_to_solved": 2, "solved_to_regressed": 1, "hint_only_to_unaided": 2},
        {"round": 4, "unsolved_to_solved": 2, "solved_to_regressed": 0, "hint_only_to_unaided": 0}]
    assert [p["start_state"] for p in lists["hint_only_to_unaided"]] == ["hint-only", "solved"]


def test_per_eval_group(factory, flips_run) -> None:
    with factory() as s:
        groups = run_flips(s, "flippy", split="train")["groups"]
    assert list(groups) == ["digits=1", "digits=2"]
    assert groups["digits=1"] == {"problems": 5, "unsolved_to_solved": 3, "solved_to_regressed": 1,
                                  "hint_only_to_unaided": 2, "stable_solved": 1, "stable_unsolved": 0}
    assert groups["digits=2"]["problems"] == 4 and groups["digits=2"]["stable_unsolved"] == 2


def test_a_window_of_rounds(factory, flips_run) -> None:
    with factory() as s:
        found = run_flips(s, "flippy", split="train", first=2, last=3)
    assert (found["from"], found["to"]) == (2, 3)
    assert names(found["lists"]["unsolved_to_solved"]) == {"a": 3, "c": 3, "d": 3}  # d: hint-only in 2
    assert names(found["lists"]["solved_to_regressed"]) == {"b": 3, "e": 3}
    assert {p["problem"] for p in found["lists"]["hint_only_to_unaided"]} == {"d"}
    assert "i" in names(found["lists"]["stable_unsolved"])  # only round 2 is in the window


def test_held_out_flips_use_the_greedy_answer(factory, flips_run) -> None:
    with factory() as s:
        found = run_flips(s, "flippy", split="eval")
    assert (found["from"], found["to"]) == (0, 4)
    assert names(found["lists"]["unsolved_to_solved"]) == {"x": 2}
    assert names(found["lists"]["solved_to_regressed"]) == {"y": 3}
    assert names(found["lists"]["stable_solved"]) == {"z": None}
    assert found["counts"]["hint_only_to_unaided"] == 0


def test_the_view_gives_the_same_answers(factory, flips_run) -> None:
    with factory() as s:
        found = run_flips(s, "flippy", split="train", limit=100)
        rows = s.execute(text("SELECT external_id, flip, flipped_in, hint_round, unaided_round, start_state, "
                              "end_state FROM problem_flips WHERE run = 'flippy' AND split = 'train'")).all()
    view = {r.external_id: r for r in rows}
    assert len(view) == found["problems"]
    for flip in ("unsolved_to_solved", "solved_to_regressed", "stable_solved", "stable_unsolved"):
        for p in found["lists"][flip]:
            row = view[p["problem"]]
            assert (row.flip, row.flipped_in, row.start_state, row.end_state) == (
                flip, p["round"], p["start_state"], p["end_state"])
    for p in found["lists"]["hint_only_to_unaided"]:
        assert (view[p["problem"]].hint_round, view[p["problem"]].unaided_round) == (p["hint_round"], p["round"])
    assert {r.external_id for r in rows if r.unaided_round is not None} == {"c", "d"}


def test_a_recheck_and_a_deleted_round_keep_problem_rounds_exact(factory, flips_run) -> None:
    """problem_rounds follows the attempts through a changed verdict and a delete, by its triggers."""
    with factory.begin() as s:
        (attempt_id,) = s.execute(text(
            "SELECT a.id FROM attempts a JOIN problems p ON p.id = a.problem_id JOIN rounds r ON r.id = a.round_id "
            "WHERE p.external_id = 'f' AND r.round_index = 4 AND a.kind = 'direct' AND a.sample_index = 0")).one()
        update_attempt_verdicts(s, [AttemptVerdict(attempt_id, "correct", True, True, "4", None)])
    with factory() as s:
        assert names(run_flips(s, "flippy")["lists"]["unsolved_to_solved"])["f"] == 4
    with factory.begin() as s:
        s.execute(text("DELETE FROM attempts WHERE round_id = :r"), {"r": flips_run.rounds[4]})
    with factory() as s:
        found = run_flips(s, "flippy")
        assert found["to"] == 3 and names(found["lists"]["unsolved_to_solved"]) == {"a": 3, "c": 3}
        assert_counts_match_attempts(s)


def assert_counts_match_attempts(session) -> None:
    """Every problem_rounds row equals a GROUP BY over the attempts, and no row is missing."""
    grouped = session.execute(text(
        "SELECT round_id, problem_id, sum(CASE WHEN kind = 'direct' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN kind = 'direct' AND accepted THEN 1 ELSE 0 END), "
        "sum(CASE WHEN kind = 'rationalized' AND accepted THEN 1 ELSE 0 END), "
        "sum(CASE WHEN kind = 'eval' AND correct THEN 1 ELSE 0 END) FROM attempts GROUP BY round_id, problem_id "
        "ORDER BY round_id, problem_id")).all()
    kept = session.execute(text(
        "SELECT round_id, problem_id, direct, direct_accepted, rationalized_accepted, eval_correct "
        "FROM problem_rounds ORDER BY round_id, problem_id")).all()
    assert [tuple(r) for r in kept] == [tuple(r) for r in grouped]


def test_unknown_run_bad_window_and_split_are_clear_errors(factory, flips_run) -> None:
    with factory() as s:
        with pytest.raises(StoreError, match="no run named 'nope'"):
            run_flips(s, "nope")
        with pytest.raises(StoreError, match="--from 3 is after --to 1"):
            run_flips(s, "flippy", first=3, last=1)
        with pytest.raises(StoreError, match="unknown split 'test'; use --split train or --split eval"):
            run_flips(s, "flippy", split="test")


def test_cli_prints_counts_and_json(store_url, factory, flips_run) -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["flips", "flippy", "--db", store_url], catch_exceptions=False)
    assert table.exit_code == 0, table.output
    assert "hint-only → unaided" in table.output and "c (r3, hint r1)" in table.output
    as_json = runner.invoke(cli, ["flips", "flippy", "--from", "2", "--to", "3", "--json", "--db", store_url])
    with factory() as s:
        assert json.loads(as_json.stdout) == run_flips(s, "flippy", first=2, last=3)
    bad = runner.invoke(cli, ["flips", "flippy", "--from", "3", "--to", "1", "--db", store_url])
    assert bad.exit_code == 2 and "--from 3 is after --to 1" in bad.stderr


def test_a_snapshot_answers_for_the_whole_run_until_its_rounds_change(factory, flips_run) -> None:
    from db.flips import snapshot_flips
    from db.store import get_or_create_round, get_run

    with factory() as s:
        live = {split: run_flips(s, "flippy", split=split, limit=100) for split in ("train", "eval")}
    with factory.begin() as s:
        assert snapshot_flips(s, get_run(s, "flippy")) == len(TRAIN) + len(EVALS)
    with factory() as s:
        assert {split: run_flips(s, "flippy", split=split, limit=100) for split in ("train", "eval")} == live
    # It is the snapshot that answers: a change to it shows in the whole run, not in a window
    with factory.begin() as s:
        s.execute(text("UPDATE flip_spans SET end_state = 0, since = 4 WHERE problem_id = :p"),
                  {"p": flips_run.problems["h"]})
    with factory() as s:
        assert names(run_flips(s, "flippy")["lists"]["solved_to_regressed"]) == {"b": 3, "h": 4}
        assert run_flips(s, "flippy", first=0)["counts"] == live["train"]["counts"]
    # A new round makes the snapshot stale: the whole run is read from problem_rounds again
    with factory.begin() as s:
        get_or_create_round(s, get_run(s, "flippy"), 5)
    with factory() as s:
        assert run_flips(s, "flippy", limit=100) == live["train"]
