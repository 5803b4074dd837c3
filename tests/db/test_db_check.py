"""`star db check`: a clean store built by hand passes; each invariant, broken alone, is reported.

Every test runs on SQLite and PostgreSQL (the `store_url` fixture). The store
is built with db/store.py's functions as the loop would leave it mid-run
(rounds 0-2 done, round 3 generating, a live run lease and a running firing),
then exactly one thing is corrupted with an ordinary UPDATE / DELETE / INSERT.
The unique attempt key is enforced by both databases, so that test first drops
it the way a manual edit would (PostgreSQL: ALTER TABLE ... DROP CONSTRAINT;
SQLite cannot drop a table constraint, so the table is rebuilt without it, as
an Alembic batch migration does).
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from click.testing import CliRunner, Result
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.leases import Holder, acquire_lease
from db.models import Attempt, Evaluation, Firing, Model, Problem, Round, Run, RunLease
from db.schedules import add_schedule, insert_firing
from db.store import (
    AttemptRow,
    ProblemRow,
    get_or_create_round,
    get_or_create_run,
    insert_attempts,
    record_evaluation,
    record_model,
    set_run_status,
    update_round,
    upsert_problems,
)
from star.cli import cli, register_commands
from star.storage.checkpoints import MARKER, publish

register_commands()
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
KEY = "uq_attempts_round_id_problem_id_kind_sample_index"
CONFIG = {"accept": "answer_and_steps", "lease": {"timeout_s": 60.0}, "evaluation": {"samples": 0},
          "sampling": {"samples_per_problem": 2, "allocation": "uniform"},
          "rationalization": {"samples_per_problem": 1}}


def star(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def check(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = star("db", "check", *args, "--db", url, "--now", NOW.isoformat(), "--json")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


# --- a clean store, by hand ------------------------------------------------------------------


class Builder:
    """Attempts of the demo run: prompts as the arithmetic task writes them, hint removed for training."""

    def __init__(self, session: Session, problems: dict[int, tuple[str, str]]) -> None:
        self.session, self.problems = session, problems

    def rows(self, rnd: Round, kind: str, cells: dict[tuple[int, int], bool], status: dict[tuple[int, int], str]
             ) -> None:
        rows = []
        for (pid, sample), ok in cells.items():
            question, gold = self.problems[pid]
            prompt = f"Q: {question}\n"
            shown = f"Q: {question} (hint: {gold})\n" if kind == "rationalized" else prompt
            rows.append(AttemptRow(
                round_id=rnd.id, problem_id=pid, kind=kind, sample_index=sample, prompt=shown, train_prompt=prompt,
                completion=f"work. Answer: {gold if ok else 0}", extracted=gold if ok else "0",
                status=status.get((pid, sample), "correct" if ok else "incorrect"), correct=ok, accepted=ok,
                steps_ok=True if ok else None, prompt_tokens=5, completion_tokens=9, model=f"m{rnd.index}"))
        insert_attempts(self.session, rows)


def build_clean_store(factory: sessionmaker[Session], storage: Path, scratch: Path) -> str:
    """The demo run; returns the path of round 1's checkpoint (published, marker and all)."""
    scratch.mkdir()
    (scratch / "weights.bin").write_bytes(b"\0" * 64)
    checkpoint = str(storage / "demo" / "round_1")
    publish(scratch, storage / "demo", "round_1")
    with factory.begin() as s:
        run = get_or_create_run(s, "demo", config=CONFIG, base_model="base")
        acquire_lease(s, run, Holder("head", 4242), now=NOW - timedelta(seconds=5), timeout_s=60.0)
        set_run_status(s, run, "running")
        train = upsert_problems(s, "arith", "train", [ProblemRow(f"p{i}", f"{i}+2", str(i + 2), {}) for i in range(4)])
        held = upsert_problems(s, "arith", "eval", [ProblemRow(f"e{i}", f"{i}+3", str(i + 3), {}) for i in range(3)])
        p = [train[f"p{i}"] for i in range(4)]
        e = [held[f"e{i}"] for i in range(3)]
        build = Builder(s, {pid: (f"{i}+2", str(i + 2)) for i, pid in enumerate(p)}
                        | {pid: (f"{i}+3", str(i + 3)) for i, pid in enumerate(e)})
        r0, r1, r2, r3 = (get_or_create_round(s, run, i) for i in range(4))
        build.rows(r0, "eval", {(e[0], 0): True, (e[1], 0): False, (e[2], 0): False}, {})
        _finish(s, r0, model_in="base", model_out="base", accuracy=1 / 3, counts={"check_errors": 0})

        direct = {(pid, k): (i, k) in ((0, 0), (1, 1)) for i, pid in enumerate(p) for k in range(2)}
        build.rows(r1, "direct", direct, {(p[3], 1): "timeout"})
        build.rows(r1, "rationalized", {(p[2], 0): True, (p[3], 0): False}, {})
        build.rows(r1, "eval", {(e[0], 0): True, (e[1], 0): True, (e[2], 0): False}, {})
        record_model(s, run=run, round_index=1, path=checkpoint, parent="base", base="base", train_examples=3,
                     steps=5, metrics={})
        _finish(s, r1, model_in="base", model_out=checkpoint, accuracy=2 / 3, counts={
            "attempted": 4, "accepted_direct": 2, "accepted_rationalized": 1, "train_examples": 3,
            "train_steps": 5, "check_errors": 1})

        build.rows(r2, "direct", {(pid, k): False for pid in p for k in range(2)}, {})  # nothing accepted: no training
        build.rows(r2, "rationalized", {(pid, 0): False for pid in p}, {})
        build.rows(r2, "eval", {(pid, 0): False for pid in e}, {})
        _finish(s, r2, model_in=checkpoint, model_out=checkpoint, accuracy=0.0, counts={
            "attempted": 4, "accepted_direct": 0, "accepted_rationalized": 0, "train_examples": 0,
            "train_steps": 0, "check_errors": 0})

        update_round(s, r3, status="generating", model_in=checkpoint)  # in progress: not judged yet
        build.rows(r3, "direct", {(p[0], 0): False}, {})
        schedule = add_schedule(s, name="nightly", run_name="demo", config={}, cron="0 2 * * *", timezone="UTC")
        insert_firing(s, schedule, NOW - timedelta(days=1), status="missed", error="no scheduler", now=NOW)
        insert_firing(s, schedule, NOW - timedelta(hours=1), status="running", owner="sched-1",
                      lease_expires_at=NOW + timedelta(seconds=60), target_round=3, now=NOW - timedelta(hours=1))
    return checkpoint


def _finish(s: Session, rnd: Round, *, model_in: str, model_out: str, accuracy: float, counts: dict[str, int]) -> None:
    update_round(s, rnd, status="done", model_in=model_in, model_out=model_out, counts=counts)
    record_evaluation(s, rnd, split="eval", metric="accuracy", value=accuracy)


@dataclass(frozen=True)
class Store:
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    checkpoint: Path

    def attempt(self, round_index: int, problem: str, kind: str, sample: int) -> int:
        with self.factory() as s:
            return s.scalar(select(Attempt.id).join(Round).join(Problem).where(
                Round.index == round_index, Problem.external_id == problem, Attempt.kind == kind,
                Attempt.sample_index == sample))

    def execute(self, *statements: Any) -> None:
        with self.factory.begin() as s:
            for statement in statements:
                s.execute(statement)


@pytest.fixture
def clean(store_url: str, engine: Engine, factory: sessionmaker[Session], tmp_path: Path) -> Store:
    checkpoint = build_clean_store(factory, tmp_path / "storage", tmp_path / "scratch")
    return Store(store_url, engine, factory, Path(checkpoint))


def drop_attempt_key(engine: Engine) -> None:
    """Drop the unique attempt key, as a manual edit or a careless migration could."""
    with engine.begin() as conn:
        ops = Operations(MigrationContext.configure(conn))
        if conn.dialect.name == "postgresql":
            ops.drop_constraint(KEY, "attempts", type_="unique")
            return
        initial = importlib.import_module("migrations.versions.0001_initial_schema")
        for view in ("accepted_triplets", "round_summary"):  # they name `attempts`, which is rebuilt
            conn.exec_driver_sql(f"DROP VIEW {view}")
        with ops.batch_alter_table("attempts", recreate="always") as batch:
            batch.drop_constraint(KEY, type_="unique")
        conn.exec_driver_sql(initial.ACCEPTED_TRIPLETS)
        conn.exec_driver_sql(initial.ROUND_SUMMARY)


def copy_attempts(store: Store, ids: list[int]) -> None:
    """Insert a second row for each attempt: same key, new id."""
    columns = [c for c in Attempt.__table__.columns if c.name != "id"]
    with store.factory.begin() as s:
        rows = [dict(r) for r in s.execute(select(*columns).where(Attempt.id.in_(ids))).mappings()]
        s.execute(insert(Attempt.__table__), rows)


# --- clean, then one corruption per invariant ------------------------------------------------------


def test_a_clean_store_passes_every_check(clean: Store) -> None:
    code, report = check(clean.url)
    assert (code, report["clean"], report["violations"]) == (0, True, [])
    assert report["checked"] == {"runs": 1, "rounds": 4, "done_rounds": 3, "attempts": 32}
    assert [c["name"] for c in report["checks"] if c["ok"]] == [
        "attempt_keys", "attempt_runs", "accepted_correct", "training_prompts", "round_samples", "round_counts",
        "round_models",
        "round_evaluations", "flip_snapshots", "run_leases", "firings", "checkpoints"]
    assert check(clean.url, "demo")[0] == 0
    text = star("db", "check", "demo", "--db", clean.url, "--now", NOW.isoformat())
    assert text.exit_code == 0 and "all 12 invariants hold" in text.stdout, text.output


def _duplicate(store: Store) -> None:
    drop_attempt_key(store.engine)
    copy_attempts(store, [store.attempt(1, "p0", "direct", 0)])


def _misfile(store: Store) -> None:
    with store.factory.begin() as s:
        other = get_or_create_run(s, "other", config={}, base_model="base").id
    store.execute(update(Attempt).where(Attempt.id == store.attempt(1, "p1", "direct", 0)).values(run_id=other))


def _set(round_index: int, problem: str, kind: str, sample: int, **values: Any) -> Callable[[Store], None]:
    def corrupt(store: Store) -> None:
        store.execute(update(Attempt).where(Attempt.id == store.attempt(round_index, problem, kind, sample))
                      .values(**values))
    return corrupt


def _hint_kept(store: Store) -> None:
    attempt_id = store.attempt(1, "p2", "rationalized", 0)
    store.execute(update(Attempt).where(Attempt.id == attempt_id).values(train_prompt=Attempt.prompt))


def _drop(round_index: int, problem: str, kind: str, sample: int) -> Callable[[Store], None]:
    def corrupt(store: Store) -> None:
        store.execute(delete(Attempt).where(Attempt.id == store.attempt(round_index, problem, kind, sample)))
    return corrupt


def _round_id(store: Store, index: int) -> int:
    with store.factory() as s:
        return s.scalar(select(Round.id).where(Round.index == index))


def _drop_model(store: Store) -> None:
    store.execute(delete(Model).where(Model.round_id == _round_id(store, 1)))


def _wrong_accuracy(store: Store) -> None:
    store.execute(update(Evaluation).where(Evaluation.round_id == _round_id(store, 1)).values(value=0.9))


def _drop_eval_answers(store: Store) -> None:
    store.execute(delete(Attempt).where(Attempt.round_id == _round_id(store, 2), Attempt.kind == "eval"))


def _stale_lease(store: Store) -> None:
    store.execute(update(RunLease).values(heartbeat_at=NOW - timedelta(minutes=10)))


def _stale_flips(store: Store) -> None:
    """The run's flips are kept, then the kept copy of one problem is edited by hand."""
    from db.flips import snapshot_flips
    from db.models import FlipSpan
    from db.store import get_run

    with store.factory.begin() as s:
        snapshot_flips(s, get_run(s, "demo"))
        p0 = s.scalar(select(Problem.id).where(Problem.external_id == "p0"))
    store.execute(update(FlipSpan).where(FlipSpan.problem_id == p0, FlipSpan.split == "train")
                  .values(first_round=0))


def _expired_firing(store: Store) -> None:
    store.execute(update(Firing).where(Firing.status == "running").values(lease_expires_at=NOW - timedelta(minutes=1)))


CORRUPTIONS: dict[str, tuple[Callable[[Store], None], str, dict[str, Any]]] = {
    "duplicate attempt": (_duplicate, "attempt_keys",
                          {"run": "demo", "round": 1, "problem": "p0", "kind": "direct", "sample": 0, "copies": 2}),
    "attempt under another run": (_misfile, "attempt_runs", {"round": 1, "problem": "p1", "attempt_run": "other"}),
    "accepted but incorrect": (_set(1, "p0", "direct", 0, correct=False), "accepted_correct",
                               {"problem": "p0", "correct": False, "steps_ok": True}),
    "accepted, steps wrong": (_set(1, "p1", "direct", 1, steps_ok=False), "accepted_correct",
                              {"problem": "p1", "sample": 1, "correct": True, "steps_ok": False}),
    "accepted, yet refused": (_set(1, "p0", "direct", 0, refusal="no_work"), "accepted_correct",
                              {"problem": "p0", "sample": 0, "refusal": "no_work"}),
    "refused, yet wrong": (_set(1, "p0", "direct", 1, refusal="answer_first"), "accepted_correct",
                           {"problem": "p0", "sample": 1, "correct": False, "refusal": "answer_first"}),
    "hint kept": (_hint_kept, "training_prompts", {"problem": "p2", "kind": "rationalized"}),
    "hint half removed": (_set(1, "p2", "rationalized", 0, train_prompt="Q: 2+2 (hint:)\n"), "training_prompts",
                          {"problem": "p2", "kind": "rationalized"}),
    "hint in a direct training prompt": (_set(1, "p0", "direct", 1, train_prompt="Q: 0+2 (hint: 2)\n"),
                                         "training_prompts", {"problem": "p0", "kind": "direct"}),
    "sample lost": (_drop(2, "p1", "direct", 1), "round_samples",
                    {"round": 2, "problem": "p1", "kind": "direct", "samples": 1, "expected": 2}),
    "first sample lost": (_drop(1, "p2", "direct", 0), "round_samples",
                          {"round": 1, "problem": "p2", "samples": 1, "lowest": 1, "highest": 1}),
    "acceptance revoked": (_set(1, "p0", "direct", 0, accepted=False), "round_counts",
                           {"round": 1, "count": "accepted_direct", "recorded": 2, "stored": 1}),
    "check error re-judged": (_set(1, "p3", "direct", 1, status="incorrect"), "round_counts",
                              {"round": 1, "count": "check_errors", "recorded": 1, "stored": 0}),
    "model row lost": (_drop_model, "round_models", {"round": 1, "issue": "trained, but no checkpoint is recorded"}),
    "checkpoint lost": (lambda store: shutil.rmtree(store.checkpoint), "checkpoints",
                        {"run": "demo", "round": 1, "issue": "missing or incomplete"}),
    "checkpoint marker lost": (lambda store: (store.checkpoint / MARKER).unlink(), "checkpoints",
                               {"round": 1, "issue": "missing or incomplete"}),
    "accuracy wrong": (_wrong_accuracy, "round_evaluations", {"round": 1, "accuracy": 0.9, "correct": 2}),
    "held-out answers lost": (_drop_eval_answers, "round_evaluations", {"round": 2}),
    "kept flips stale": (_stale_flips, "flip_snapshots", {"run": "demo", "split": "train"}),
    "driver dead": (_stale_lease, "run_leases", {"run": "demo", "host": "head", "pid": 4242}),
    "lease gone": (lambda store: store.execute(delete(RunLease)), "run_leases",
                   {"run": "demo", "issue": "no driver holds its lease"}),
    "firing lease expired": (_expired_firing, "firings", {"schedule": "nightly", "run": "demo", "attempts": 1}),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_one_corruption_is_one_violation(clean: Store, name: str) -> None:
    corrupt, expected_check, expected_row = CORRUPTIONS[name]
    corrupt(clean)
    code, report = check(clean.url, "demo")
    assert code == 1 and not report["clean"]
    assert [v["check"] for v in report["violations"]] == [expected_check], report["violations"]
    found = report["violations"][0]
    assert found["total"] == 1 and found["more"] == 0
    assert expected_row.items() <= found["rows"][0].items(), found["rows"]
    text = star("db", "check", "--db", clean.url, "--now", NOW.isoformat())
    assert text.exit_code == 1 and f"FAIL  {expected_check}" in text.stdout and "1 of 12 invariants" in text.stdout


def test_a_lost_accepted_attempt_is_a_missing_sample_and_a_wrong_count(clean: Store) -> None:
    _drop(1, "p0", "direct", 0)(clean)
    found = {v["check"]: v["rows"] for v in check(clean.url)[1]["violations"]}
    assert found == {"round_samples": [{"run": "demo", "round": 1, "problem": "p0", "kind": "direct", "samples": 1,
                                        "lowest": 1, "highest": 1, "expected": 2}],
                     "round_counts": [{"run": "demo", "round": 1, "count": "accepted_direct", "recorded": 2,
                                       "stored": 1}]}


def test_a_storage_that_cannot_be_asked_is_reported_per_checkpoint(clean: Store) -> None:
    clean.execute(update(Model).values(path="nosuchscheme://bucket/demo/round_1"))
    found = {v["check"]: v["rows"] for v in check(clean.url)[1]["violations"]}
    assert found["checkpoints"][0]["issue"].startswith("cannot ask the storage: storage URI 'nosuchscheme://")
    assert found["round_models"][0]["issue"] == "model_out is not the recorded checkpoint"


# --- caps, scope, bad input ----------------------------------------------------------------------


def test_many_duplicates_print_a_few_lines(clean: Store) -> None:
    """Every attempt stored twice: --limit rows per violation, and the count of the rest."""
    drop_attempt_key(clean.engine)
    with clean.factory() as s:
        copy_attempts(clean, list(s.scalars(select(Attempt.id))))
    code, report = check(clean.url, "--limit", "3")
    # Counts of problems stay right; the one count of rows (check errors) doubles.
    found, counts = report["violations"]
    assert (code, found["check"], found["total"], len(found["rows"]), found["more"]) == (1, "attempt_keys", 32, 3, 29)
    recount = counts["rows"][0]
    assert (counts["check"], recount["count"], recount["stored"]) == ("round_counts", "check_errors", 2)
    text = star("db", "check", "--limit", "3", "--db", clean.url, "--now", NOW.isoformat()).stdout
    assert sum(line.lstrip().startswith("- ") for line in text.splitlines()) == 3 + 1  # + the count's row
    assert "... and 29 more" in text


def test_a_run_is_checked_alone(clean: Store) -> None:
    """A broken round of another run fails the whole-store check, not `star db check demo`."""
    with clean.factory.begin() as s:
        other = get_or_create_run(s, "other", config={}, base_model="base")
        update_round(s, get_or_create_round(s, other, 0), status="done", model_in="base", model_out="base")
    assert check(clean.url, "demo")[0] == 0
    code, report = check(clean.url)
    assert code == 1 and [(v["check"], v["rows"][0]["run"]) for v in report["violations"]] == [
        ("round_evaluations", "other")]


def test_firings_of_runs_not_created_yet_count_for_the_whole_store(clean: Store) -> None:
    with clean.factory.begin() as s:
        schedule = add_schedule(s, name="later", run_name="future", config={}, cron="0 3 * * *", timezone="UTC")
        insert_firing(s, schedule, NOW, status="running", owner="sched-2", lease_expires_at=None, now=NOW)
    assert check(clean.url, "demo")[0] == 0
    assert [v["rows"][0]["run"] for v in check(clean.url)[1]["violations"]] == ["future"]


def test_unknown_run_and_unreachable_stores_exit_2(clean: Store, tmp_path: Path) -> None:
    result = star("db", "check", "nope", "--db", clean.url)
    assert result.exit_code == 2 and result.stderr.startswith("error: no run named 'nope'"), result.output
    for url in (f"sqlite:///{tmp_path}/missing/star.db", "postgresql://star@127.0.0.1:1/star"):
        result = star("db", "check", "--db", url)
        assert result.exit_code == 2 and result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert star("db", "check", "--now", "yesterday", "--db", clean.url).exit_code == 2


@pytest.mark.parametrize(("round_index", "flagged"), [(1, True), (2, False)])
def test_frontier_allocation_fixes_k_in_round_1_only(clean: Store, round_index: int, flagged: bool) -> None:
    """After round 1, frontier allocation gives problems different sample counts: fewer is no loss."""
    config = {**CONFIG, "sampling": {"samples_per_problem": 2, "allocation": "frontier"}}
    clean.execute(update(Run).values(config=config))
    _drop(round_index, "p2", "direct", 1)(clean)
    assert [v["check"] for v in check(clean.url)[1]["violations"]] == (["round_samples"] if flagged else [])


# --- the hint rule where a rationalized attempt has no direct sibling -----------------------------------


@pytest.mark.parametrize(("train_prompt", "ok"), [("Q: 9+2\n", True), ("Q: 9+2 (hint: 1)\n", False),
                                                   ("Q: 9+2 (hint: 11)\n", False), ("Q: 9+3\n", False)])
def test_a_rationalized_attempt_without_direct_siblings_is_judged_on_its_texts(
        clean: Store, train_prompt: str, ok: bool) -> None:
    with clean.factory.begin() as s:
        pid = upsert_problems(s, "arith", "train", [ProblemRow("p9", "9+2", "11", {})])["p9"]
        insert_attempts(s, [AttemptRow(
            round_id=_round_id(clean, 1), problem_id=pid, kind="rationalized", sample_index=0,
            prompt="Q: 9+2 (hint: 11)\n", train_prompt=train_prompt, completion="Answer: 0", extracted="0",
            status="incorrect", correct=False, accepted=False, steps_ok=None, prompt_tokens=5, completion_tokens=3,
            model="m1")])
    code, report = check(clean.url, "demo")
    assert code == (0 if ok else 1)
    if not ok:
        assert [(v["check"], v["rows"][0]["problem"]) for v in report["violations"]] == [("training_prompts", "p9")]


def test_kept_flips_of_a_clean_store_agree(clean: Store) -> None:
    from db.flips import snapshot_differences, snapshot_flips
    from db.store import get_run

    with clean.factory.begin() as s:
        assert snapshot_flips(s, get_run(s, "demo")) > 0
    with clean.factory() as s:
        assert snapshot_differences(s, get_run(s, "demo")) == []
    assert check(clean.url, "demo")[0] == 0
