"""A driver racing for a run lease, for test_leases.py (run as a script, not collected).

Usage: lease_racer.py URL GO_FILE. Opens the store, waits for GO_FILE so all
racers start together, tries to take the lease of run "race" and prints `won`
or `refused`.
"""

from __future__ import annotations

import os
import sys
import time


def main(url: str, go_file: str) -> None:
    from db.engine import open_store, session_factory
    from db.leases import LeaseHeld, acquire_lease, this_process
    from db.models import utcnow
    from db.store import get_or_create_run

    engine = open_store(url, pool_size=1, max_overflow=0)
    engine.connect().close()  # a pooled connection before the start signal: the race is on the SQL
    while not os.path.exists(go_file):
        time.sleep(0.005)
    with session_factory(engine)() as session:
        try:
            with session.begin():
                run = get_or_create_run(session, "race", config={}, base_model="tiny")
                acquire_lease(session, run, this_process(), now=utcnow(), timeout_s=60)
            print("won")
        except LeaseHeld:
            print("refused")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
