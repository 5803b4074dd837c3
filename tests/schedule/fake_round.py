"""A stand-in for `star run` in the scheduler's bookkeeping tests (not a test of rounds).

It marks rounds 0..--rounds of --run done in the store, with a held-out
accuracy, the way a finished `star run` leaves them, and appends one line per
invocation to --calls. --fail makes it exit 3 after printing a message;
--sleep makes it hang (to be stopped or killed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from db.engine import open_store, session_factory
from db.store import get_or_create_round, get_or_create_run, record_evaluation, update_round


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--calls", required=True)
    parser.add_argument("--fail", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--extra", default="")
    args = parser.parse_args()
    with open(args.calls, "a") as calls:
        calls.write(json.dumps({"pid": os.getpid(), "run": args.run, "rounds": args.rounds,
                                "extra": args.extra}) + "\n")
    if args.sleep:
        time.sleep(args.sleep)
    if args.fail:
        print("boom: the fake round failed", file=sys.stderr)
        return 3
    sessions = session_factory(open_store(args.db))
    with sessions.begin() as session:
        run = get_or_create_run(session, args.run, config={}, base_model="fake")
        for index in range(args.rounds + 1):
            rnd = get_or_create_round(session, run, index)
            if rnd.status != "done":
                update_round(session, rnd, status="done")
                record_evaluation(session, rnd, split="eval", metric="accuracy", value=0.1 * index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
