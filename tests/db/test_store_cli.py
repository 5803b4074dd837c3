"""`star runs / rounds / rationales / show / db` end to end, on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from db.migrate import head_revision
from db.store import get_or_create_round, get_run, insert_attempts
from star.cli import cli, register_commands

register_commands()
HEAD = head_revision()


def star(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def star_json(*args: str) -> Any:
    result = star(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_runs(store_url: str, seeded: Any) -> None:
    runs = star_json("runs", "--db", store_url)
    picked = [(r["name"], r["rounds"], r["last_round"], r["base_model"]) for r in runs]
    assert picked == [("demo", 3, 2, "tiny")]
    table = star("runs", "--db", store_url)
    assert table.exit_code == 0 and "demo" in table.stdout and "base model" in table.stdout


def test_rounds(store_url: str, seeded: Any) -> None:
    rounds = star_json("rounds", "demo", "--db", store_url)
    picked = [(r["round"], r["attempted"], r["accepted_direct"], r["accepted_rationalized"],
               r["train_examples"], r["eval_accuracy"]) for r in rounds]
    assert picked == [
        (0, None, None, None, None, 0.25), (1, 12, 2, 2, 4, 0.5), (2, 12, 4, 0, 4, 0.75)]
    table = star("rounds", "demo", "--db", store_url).stdout
    assert "75.0%" in table and "25.0%" in table
    # the ledger, from the stored attempts (12 completion tokens each): round 1's 12 direct samples and 4
    # hinted retries bought 4 training examples
    assert rounds[1]["tokens_direct"] == 144 and rounds[1]["tokens_rationalized"] == 48
    assert rounds[1]["ledger"]["tokens_per_example"] == 192 / 4 and rounds[0]["tokens_eval_greedy"] == 4 * 12
    assert "Tokens generated" in table and "tok./train ex." in table


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--round", "1", "--rationalized", "--correct"],
         [("p2", "rationalized", 0), ("p3", "rationalized", 0)]),
        (["--round", "2", "--direct", "--correct"], [(f"p{i}", "direct", 0) for i in range(4)]),
        (["--problem", "p1", "--incorrect"], [("p1", "direct", 1), ("p1", "direct", 1)]),
        (["--eval", "--correct"], [("e0", "eval", 0)]),
        (["--round", "1", "--limit", "3"], [("p0", "direct", 0), ("p0", "direct", 1), ("p1", "direct", 0)]),
    ],
)
def test_rationales_filters(
    store_url: str, seeded: Any, args: list[str], expected: list[tuple]
) -> None:
    rows = star_json("rationales", "demo", *args, "--db", store_url)
    assert [(r["problem"], r["kind"], r["sample_index"]) for r in rows] == expected
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


def test_rationales_contains_is_literal_and_case_insensitive(
    store_url: str, seeded: Any, factory: sessionmaker[Session], make_attempt: Any
) -> None:
    texts = ["Carry the 1: 50%_off [x]", "carry nothing", "50 percent off"]
    with factory.begin() as s:
        rid = get_or_create_round(s, get_run(s, "demo"), 3).id
        pid = seeded.problems["p0"]
        rows = [make_attempt(rid, pid, "direct", k, ok=False, completion=t) for k, t in enumerate(texts)]
        insert_attempts(s, rows)
    found = star_json("rationales", "demo", "--contains", "%_OFF [", "--db", store_url)
    assert [r["completion"] for r in found] == texts[:1]  # % and _ are not wildcards
    found = star_json("rationales", "demo", "--round", "3", "--contains", "CARRY", "--db", store_url)
    assert [r["completion"] for r in found] == texts[:2]
    table = star("rationales", "demo", "--round", "3", "--db", store_url)
    assert "[x]" in table.stdout  # model text is not parsed as rich markup


def test_show(store_url: str, seeded: Any) -> None:
    [row] = star_json("rationales", "demo", "--problem", "p2", "--rationalized", "--db", store_url)
    shown = star_json("show", str(row["id"]), "--db", store_url)
    assert shown["question"] == "2 + 2 = ?" and shown["gold"] == "4" and shown["accepted"] is True
    assert "hint" in shown["prompt"] and "hint" not in shown["train_prompt"]
    text = star("show", str(row["id"]), "--db", store_url).stdout
    assert "train_prompt" in text and "(hint: the answer is 4)" in text and shown["completion"] in text


def test_db_upgrade_and_current(store_url: str) -> None:
    star("db", "upgrade", "--db", store_url, "--revision", "0001")
    assert "revision 0001 (head is" in star("db", "current", "--db", store_url).stdout
    _fails(["runs", "--db", store_url], f"is at revision 0001, behind {HEAD}; run `star db upgrade --db ")
    first = star("db", "upgrade", "--db", store_url)
    assert first.exit_code == 0 and f"upgraded from 0001 to revision {HEAD}" in first.stdout
    again = star("db", "upgrade", "--db", store_url)
    assert f"already at revision {HEAD}" in again.stdout
    assert f"revision {HEAD} (head is {HEAD})" in star("db", "current", "--db", store_url).stdout
    assert star_json("runs", "--db", store_url) == []
    _fails(["db", "upgrade", "--db", store_url, "--revision", "zzz"], "`star db current` shows where")


def _fails(args: list[str], message: str) -> None:
    result = star(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr, result.stderr


def test_unknown_run_round_and_attempt(store_url: str, seeded: Any) -> None:
    db = ["--db", store_url]
    _fails(["rounds", "nope", *db], "no run named 'nope'; `star runs` lists them")
    _fails(["rationales", "nope", *db], "no run named 'nope'")
    _fails(["rationales", "demo", "--round", "9", *db],
           "run 'demo' has no round 9; `star rounds demo` lists them")
    _fails(["show", "123456", *db], "no attempt with id 123456")
    _fails(["rationales", "demo", "--limit", "0", *db], "--limit must be at least 1")


def test_bad_database_urls(tmp_path: Path) -> None:
    _fails(["runs", "--db", "not a url"], "cannot parse database URL 'not a url'; use sqlite:///PATH")
    _fails(["runs", "--db", "mysql://u@h/db"], "unsupported database 'mysql'")
    _fails(["runs", "--db", f"sqlite:///{tmp_path}/missing.db"], "no database at")
    _fails(["runs", "--db", f"sqlite:///{tmp_path}/no/such/dir.db"],
           "does not exist; create it or pass another --db")
    assert list(tmp_path.iterdir()) == []  # nothing created by any of them


@pytest.mark.postgres
def test_bad_postgres_urls(pg_database: str, pg_url: str) -> None:
    down = "postgresql://postgres@127.0.0.1:1/x"
    _fails(["runs", "--db", down], f"cannot use database {down}")
    _fails(["runs", "--db", f"{pg_database}_missing"], "does not exist")
    _fails(["db", "upgrade", "--db", down], "check --db")
    _fails(["runs", "--db", pg_url], "has no star schema; run `star db upgrade --db postgresql://")


def test_environment_variable_selects_the_database(
    store_url: str, seeded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAR_DATABASE_URL", store_url)
    assert [r["name"] for r in star_json("runs")] == ["demo"]


def test_rationales_by_refusal(store_url: str, seeded: Any, factory: sessionmaker[Session], make_attempt: Any) -> None:
    import dataclasses

    with factory.begin() as s:
        rid = get_or_create_round(s, get_run(s, "demo"), 3).id
        pid = seeded.problems["p0"]
        rows = [dataclasses.replace(make_attempt(rid, pid, "rationalized", k, ok=True, accepted=False,
                                                 completion=f"Answer: 4 ({reason})"), refusal=reason, path_key="k")
                for k, reason in enumerate(["no_work", "answer_first", "no_work"])]
        insert_attempts(s, rows)
    found = star_json("rationales", "demo", "--refusal", "no_work", "--db", store_url)
    assert [(r["sample_index"], r["refusal"], r["accepted"]) for r in found] == [(0, "no_work", False),
                                                                               (2, "no_work", False)]
    assert len(star_json("rationales", "demo", "--refusal", "any", "--db", store_url)) == 3
    assert "answer_first" in star("rationales", "demo", "--round", "3", "--db", store_url).stdout
    bad = CliRunner().invoke(cli, ["rationales", "demo", "--refusal", "lazy", "--db", store_url])
    assert bad.exit_code != 0 and "unknown refusal 'lazy'" in bad.output and "no_work" in bad.output


def test_the_store_and_the_loop_name_the_same_refusals() -> None:
    from db.models import REFUSALS
    from star.checker.work import ANSWER_FIRST, NO_WORK, NOT_COMPUTED
    from star.loop import acceptance

    from star.report.table import REFUSAL_COLUMNS

    assert REFUSALS == acceptance.REFUSALS and {NO_WORK, ANSWER_FIRST, NOT_COMPUTED} <= set(REFUSALS)
    assert {key.removeprefix("refused_") for _, key in REFUSAL_COLUMNS} == set(REFUSALS)  # a column for each
