"""A lease whose holder's process is gone is taken at once, not after lease.timeout_s."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from db.leases import Holder, LeaseInfo
from star.run.liveness import dead_holder_reason, process_start

HOST = socket.gethostname()
NOW = datetime.now(timezone.utc)


def _info(pid: int, *, host: str = HOST, acquired: datetime = NOW) -> LeaseInfo:
    return LeaseInfo(Holder(host, pid), acquired, acquired)


def test_a_holder_whose_process_exited_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    reason = dead_holder_reason(_info(child.pid))
    assert reason == f"its process {child.pid} on {HOST} is gone"


def test_a_live_holder_and_a_holder_on_another_host_are_alive() -> None:
    started = datetime.fromtimestamp(process_start(os.getpid()), timezone.utc)
    assert dead_holder_reason(_info(os.getpid(), acquired=started + timedelta(seconds=5))) is None
    assert dead_holder_reason(_info(1, host="another-host")) is None  # its processes cannot be seen


def test_a_pid_reused_after_the_lease_was_taken_is_dead() -> None:
    started = process_start(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:  # /proc's start times are read right: a child started later reads later
        assert started is not None and process_start(child.pid) >= started
    finally:
        child.kill()
        child.wait()
    taken_before = datetime.fromtimestamp(started, timezone.utc) - timedelta(hours=1)
    reason = dead_holder_reason(_info(os.getpid(), acquired=taken_before))
    assert reason is not None and "now belongs to another process" in reason
