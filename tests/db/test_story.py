"""A problem's story (db/story.py, `star problem`) and two runs compared (db/compare.py, `star compare`).

Stores are built by hand on SQLite and PostgreSQL; letters per round as in test_flips.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from db.compare import compare_runs
from db.errors import StoreError
from db.store import get_round, get_run, record_evaluation
from db.story import problem_story
from star.cli import cli, register_commands

register_commands()


@pytest.fixture
def story_run(factory, build_states):
    return build_states(factory, "story", {"c": "-HUSS", "p": "-SSSS"}, {"x": "WWRRR", "p": "RRWWW"})


def test_every_round_with_its_attempts_and_state(factory, story_run) -> None:
    with factory() as s:
        story = problem_story(s, "story", "c")
    assert story["problem"]["external_id"] == "c" and story["problem"]["metadata"] == {"digits": 1}
    assert [(x["round"], x["state"]) for x in story["states"]] == [
        (1, "hint-only"), (2, "unsolved"), (3, "solved"), (4, "solved")]
    first = story["rounds"][0]
    assert [(a["kind"], a["sample_index"], a["accepted"]) for a in first["attempts"]] == [
        ("direct", 0, False), ("direct", 1, False), ("rationalized", 0, True)]
    assert first["counts"]["rationalized_accepted"] == 1 and first["heldout"] is None
    assert [len(r["attempts"]) for r in story["rounds"]] == [3, 3, 2, 2]
    assert story["page"] == {"first": 1, "rounds_per_page": 10, "next": None, "previous": None}


def test_the_held_out_answer_and_when_it_changed(factory, story_run) -> None:
    with factory() as s:
        story = problem_story(s, "story", "x")
        later = problem_story(s, "story", "x", first=2, rounds_per_page=1)
    held = [(r["round"], r["heldout"]["answer"], r["heldout"]["correct"], r["heldout"]["changed"])
            for r in story["rounds"]]
    assert held == [(0, "5", False, False), (1, "5", False, False), (2, "4", True, True), (3, "4", True, False),
                    (4, "4", True, False)]
    # The round before the page still decides whether the answer changed.
    assert later["rounds"][0]["heldout"]["changed"] is True


def test_rounds_come_a_page_at_a_time(factory, story_run) -> None:
    with factory() as s:
        first = problem_story(s, "story", "c", rounds_per_page=2)
        second = problem_story(s, "story", "c", first=first["page"]["next"], rounds_per_page=2)
        with pytest.raises(StoreError, match="--rounds must be 1..50"):
            problem_story(s, "story", "c", rounds_per_page=51)
    assert [r["round"] for r in first["rounds"]] == [1, 2] and first["page"]["next"] == 3
    assert [r["round"] for r in second["rounds"]] == [3, 4]
    assert second["page"]["previous"] == 1 and second["page"]["next"] is None
    assert len(second["states"]) == 4  # the overview always covers every round


def test_an_id_in_two_splits_needs_split(factory, story_run) -> None:
    with factory() as s:
        with pytest.raises(StoreError, match=r"is in several datasets or splits \(arith/train, arith/eval\); pass --split"):
            problem_story(s, "story", "p")
        assert problem_story(s, "story", "p", split="eval")["problem"]["split"] == "eval"
        with pytest.raises(StoreError, match="run 'story' has no attempts on a problem 'nope'; `star rationales story`"):
            problem_story(s, "story", "nope")


def test_star_problem_prints_the_story(store_url, factory, story_run) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["problem", "story", "c", "--db", store_url], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "states: r1 hint-only · r2 unsolved · r3 solved · r4 solved" in out.output
    assert "round 1: hint-only — direct 0/2 accepted, rationalized 1/1 accepted" in out.output
    as_json = runner.invoke(cli, ["problem", "story", "x", "--rounds", "2", "--json", "--db", store_url])
    with factory() as s:
        assert json.loads(as_json.stdout) == problem_story(s, "story", "x", rounds_per_page=2)
    ambiguous = runner.invoke(cli, ["problem", "story", "p", "--db", store_url])
    assert ambiguous.exit_code == 2 and "pass --split" in ambiguous.stderr


@pytest.fixture
def two_runs(factory, build_states):
    a = build_states(factory, "A", {"a": "-UUS", "b": "-SSS"}, {"x": "WWR", "y": "RRR", "z": "WWW"})
    b = build_states(factory, "B", {"a": "-SSU", "b": "-SSS"}, {"x": "WWW", "y": "RRR", "z": "WWR"})
    with factory.begin() as s:
        for name, values in (("A", (0.3, 0.5, 0.6)), ("B", (0.3, 0.4))):
            run = get_run(s, name)
            for index, value in enumerate(values):
                record_evaluation(s, get_round(s, run, index), split="eval", metric="accuracy", value=value)
    return a, b


def test_compare_finds_what_each_run_solves_alone(factory, two_runs) -> None:
    with factory() as s:
        held_out = compare_runs(s, "A", "B")
        train = compare_runs(s, "A", "B", split="train")
        earlier = compare_runs(s, "A", "B", round_a=1)
    p = held_out["problems"]
    assert (p["round_a"], p["round_b"], p["shared"], p["both_solve"], p["neither_solves"]) == (2, 2, 3, 1, 0)
    assert [x["problem"] for x in p["a_not_b"]] == ["x"] and [x["problem"] for x in p["b_not_a"]] == ["z"]
    assert [x["problem"] for x in train["problems"]["a_not_b"]] == ["a"] and train["problems"]["round_a"] == 3
    assert [x["problem"] for x in earlier["problems"]["a_not_b"]] == []
    assert [x["problem"] for x in earlier["problems"]["b_not_a"]] == ["z"]
    assert [(r["round"], r["a"]["eval_accuracy"], r["b"] and r["b"]["eval_accuracy"]) for r in held_out["rounds"]] == [
        (0, 0.3, 0.3), (1, 0.5, 0.4), (2, 0.6, None), (3, None, None)]


def test_star_compare(store_url, factory, two_runs) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["compare", "A", "B", "--db", store_url], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "1 by A only, 1 by B only" in out.output and "solved by A only: x" in out.output
    as_json = runner.invoke(cli, ["compare", "A", "B", "--split", "train", "--json", "--db", store_url])
    with factory() as s:
        assert json.loads(as_json.stdout) == compare_runs(s, "A", "B", split="train", limit=20)
    missing = runner.invoke(cli, ["compare", "A", "C", "--db", store_url])
    assert missing.exit_code == 2 and "no run named 'C'" in missing.stderr
