"""Fixtures for the scheduler tests: the store fixtures of tests/db (SQLite and the
real PostgreSQL), a schedule factory, and the fake round child as the firing's
command (the tests here are about firings, not rounds; tests/loop covers rounds)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import db.schedules as sched_store
from star.schedule.firing import FiringSpec
from star.schedule.ticker import Scheduler, frozen_clock

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FAKE = str(HERE / "fake_round.py")

# tests/ is not a package: load tests/db/conftest.py by path and reuse its store fixtures.
_spec = importlib.util.spec_from_file_location("_star_db_fixtures", REPO / "tests" / "db" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_db = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _db  # dataclasses look their module up there
_spec.loader.exec_module(_db)
pg_database = _db.pg_database
pg_url = _db.pg_url
sqlite_url = _db.sqlite_url
store_url = _db.store_url
engine = _db.engine
factory = _db.factory


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


class Harness:
    """A store, schedules in it, and schedulers whose firings run the fake round."""

    def __init__(self, url: str, sessions: sessionmaker[Session], tmp: Path) -> None:
        self.url = url
        self.sessions = sessions
        self.calls = tmp / "calls.jsonl"
        self.tmp = tmp
        self.fake_args: list[str] = []  # e.g. ["--fail"], changed by tests between ticks

    def add(self, name: str = "nightly", *, created: datetime, cron: str = "0 2 * * *", tz: str = "UTC",
            **fields: Any) -> None:
        with self.sessions.begin() as session:
            sched_store.add_schedule(session, name=name, run_name=fields.pop("run_name", name),
                                     config={"storage": str(self.tmp / "runs")}, cron=cron, timezone=tz,
                                     created_at=created, **fields)

    def command(self, spec: FiringSpec) -> list[str]:
        return [sys.executable, FAKE, "--db", spec.store_url, "--run", spec.run_name,
                "--rounds", str(spec.target_round), "--calls", str(self.calls), *self.fake_args]

    def scheduler(self, now: datetime, **kwargs: Any) -> Scheduler:
        return Scheduler(self.sessions, self.url, clock=frozen_clock(now), command=self.command, **kwargs)

    def tick(self, now: datetime, **kwargs: Any) -> Scheduler:
        scheduler = self.scheduler(now, **kwargs)
        scheduler.tick(wait=True)
        return scheduler

    def history(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.sessions() as session:
            return sched_store.firing_history(session, name)

    def invocations(self) -> list[dict[str, Any]]:
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]


@pytest.fixture
def harness(store_url: str, factory: sessionmaker[Session], tmp_path: Path) -> Harness:
    return Harness(store_url, factory, tmp_path)


@pytest.fixture(name="utc")
def utc_fixture() -> Callable[..., datetime]:
    return utc
