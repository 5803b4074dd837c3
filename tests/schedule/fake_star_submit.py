"""A `star submit`-compatible stand-in for the address-path bookkeeping test.

It accepts the command line of `star submit CONFIG --address URL --run-name RUN
--rounds N --submission-id ID --wait`, reads the store URL from CONFIG as the
real job would, and either marks rounds 0..N done and exits 0 (the job
succeeded) or prints a failure and exits 1 (the job failed), as documented for
`star submit --wait`.
"""

from __future__ import annotations

import argparse
import json
import sys

import yaml

from db.engine import open_store, session_factory
from db.store import get_or_create_round, get_or_create_run, update_round


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["submit"])
    parser.add_argument("config")
    parser.add_argument("--address", required=True)
    parser.add_argument("--run-name", required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--submission-id", required=True)
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--calls", required=True)
    parser.add_argument("--behaviour", choices=["succeed", "fail"], required=True)
    args = parser.parse_args()
    with open(args.calls, "a") as calls:
        calls.write(json.dumps({"address": args.address, "wait": args.wait, "rounds": args.rounds,
                                "submission_id": args.submission_id}) + "\n")
    if args.behaviour == "fail":
        print(f"job {args.submission_id} FAILED: the round raised", file=sys.stderr)
        return 1
    with open(args.config) as handle:
        database = yaml.safe_load(handle)["database"]
    sessions = session_factory(open_store(database))
    with sessions.begin() as session:
        run = get_or_create_run(session, args.run_name, config={}, base_model="fake")
        for index in range(args.rounds + 1):
            update_round(session, get_or_create_round(session, run, index), status="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
