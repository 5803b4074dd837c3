"""The run lease: one driver per run, on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from db import migrate
from db.engine import make_engine
from db.leases import Holder, LeaseHeld, acquire_lease, heartbeat, lease_info, release_lease
from db.models import RunLease
from db.store import get_or_create_run

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
TIMEOUT = 60.0
REPO = Path(__file__).resolve().parents[2]
RACER = Path(__file__).with_name("lease_racer.py")

ALICE = Holder("head-node", 101, "raysubmit_alice")
BOB = Holder("laptop", 202)


def _acquire(factory: sessionmaker[Session], holder: Holder, now: datetime, **kw):
    with factory.begin() as s:
        run = get_or_create_run(s, "demo", config={}, base_model="tiny")
        return acquire_lease(s, run, holder, now=now, timeout_s=TIMEOUT, **kw)


def _info(factory: sessionmaker[Session]):
    with factory() as s:
        return lease_info(s, get_or_create_run(s, "demo", config={}, base_model="tiny"))


def test_second_driver_is_refused_naming_the_holder(factory: sessionmaker[Session]) -> None:
    lease = _acquire(factory, ALICE, T0)
    assert lease.took_over is None
    with pytest.raises(LeaseHeld) as err:
        _acquire(factory, BOB, T0 + timedelta(seconds=30))
    message = str(err.value)
    assert "pid 101 on head-node (Ray job raysubmit_alice) since 2026-11-29 12:00:00 UTC" in message
    assert "last heartbeat 30 s ago" in message and "retry in 30 s" in message
    assert "star run --resume demo --force" in message
    assert _info(factory).holder == ALICE  # refusing changed nothing


def test_heartbeat_keeps_the_lease_and_a_stale_one_is_taken_over(factory: sessionmaker[Session]) -> None:
    lease = _acquire(factory, ALICE, T0)
    for minute in range(1, 4):  # alive for 3 minutes, well past the 60 s timeout
        with factory.begin() as s:
            assert heartbeat(s, lease, now=T0 + timedelta(minutes=minute))
    with pytest.raises(LeaseHeld):
        _acquire(factory, BOB, T0 + timedelta(minutes=3, seconds=59))
    assert _info(factory).heartbeat_at == T0 + timedelta(minutes=3)
    # Alice goes silent: 61 s after her last heartbeat, Bob takes over.
    taken = _acquire(factory, BOB, T0 + timedelta(minutes=4, seconds=1))
    assert taken.took_over == ALICE
    assert _info(factory).holder == BOB
    with factory.begin() as s:  # Alice's next heartbeat tells her she lost the run
        assert not heartbeat(s, lease, now=T0 + timedelta(minutes=5))
        assert not release_lease(s, lease)  # and she cannot release Bob's lease
    assert _info(factory).holder == BOB


def test_release_frees_the_run(factory: sessionmaker[Session]) -> None:
    lease = _acquire(factory, ALICE, T0)
    with factory.begin() as s:
        assert release_lease(s, lease)
    assert _info(factory) is None
    again = _acquire(factory, BOB, T0 + timedelta(seconds=1))  # at once, no timeout to wait
    assert again.took_over is None and _info(factory).holder == BOB


def test_force_takes_over_a_live_lease(factory: sessionmaker[Session]) -> None:
    lease = _acquire(factory, ALICE, T0)
    forced = _acquire(factory, BOB, T0 + timedelta(seconds=1), force=True)
    assert forced.took_over == ALICE
    with factory.begin() as s:
        assert not heartbeat(s, lease, now=T0 + timedelta(seconds=2))


def _race(store_url: str, tmp_path: Path, racers: int = 4) -> list[str]:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs = [subprocess.Popen([sys.executable, str(RACER), store_url, str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(racers)]
    time.sleep(3.0)  # every interpreter imported and connected before the start signal
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    go.unlink()
    return sorted(out.strip() for out, _ in outputs)


def test_racing_drivers_exactly_one_wins(store_url: str, tmp_path: Path) -> None:
    engine = make_engine(store_url)
    migrate.upgrade(engine)
    assert _race(store_url, tmp_path) == ["refused", "refused", "refused", "won"]
    # The winner's process has exited without releasing: its lease goes stale,
    # and racers for the stale lease again produce exactly one winner.
    with engine.begin() as conn:
        conn.execute(update(RunLease).values(heartbeat_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    assert _race(store_url, tmp_path) == ["refused", "refused", "refused", "won"]
    engine.dispose()
