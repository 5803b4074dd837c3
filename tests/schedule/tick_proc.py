"""`star schedule tick` with the fake round child, as its own process (race and kill tests).

Usage: tick_proc.py DB_URL NOW CALLS LEASE_SECONDS [fake_round options...]
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from db.engine import open_store, session_factory
from star.cli.schedule import parse_now
from star.schedule.ticker import Scheduler, frozen_clock

FAKE = str(Path(__file__).with_name("fake_round.py"))


def main() -> int:
    url, now, calls, lease, *extra = sys.argv[1:]
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

    def command(spec):
        return [sys.executable, FAKE, "--db", spec.store_url, "--run", spec.run_name,
                "--rounds", str(spec.target_round), "--calls", calls, *extra]

    scheduler = Scheduler(session_factory(open_store(url)), url, clock=frozen_clock(parse_now(now)),
                          command=command, lease_s=float(lease))
    start_at = float(os.environ.get("TICK_START_AT", "0"))  # line racing processes up after their imports
    time.sleep(max(0.0, start_at - time.time()))
    scheduler.tick(wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
