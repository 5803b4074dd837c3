"""`star db check [RUN]`: an fsck for the store, added to the `star db` group.

It proves the invariants the loop promises (docs/cluster.md, "How to prove
nothing was lost"): one attempt per key, accepted means correct, no hint in a
training prompt, done rounds whole (counts, checkpoint row and files,
evaluation), no run or firing stuck without a live lease. Exit 0 when all
hold, 1 when one does not (each violation with the rows involved, at most
`--limit` of them), 2 on bad input (an unknown run, an unreachable or stale
store), as for every star command.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from star.cli.common import db_option, json_option, open_session, print_json
from star.cli.store import db_group

if TYPE_CHECKING:  # db/ pulls in SQLAlchemy; the command imports it when it runs
    from db.check import CheckReport, Violation


@db_group.command("check")
@click.argument("run", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=10, show_default=True,
              help="Rows listed per violation (the count of all of them is always printed).")
@click.option("--now", default=None, metavar="ISO8601",
              help="Judge leases and firings as of this instant instead of now (tests, a copy of a store).")
@db_option
@json_option
def check_cmd(run: str | None, limit: int, now: str | None, db_url: str | None, as_json: bool) -> None:
    """Check that the store keeps the loop's promises, for RUN or every run; exit 1 on a violation."""
    from db.check import make_scope
    from db.models import utcnow
    from db.urls import default_database_url, display_url
    from star.cli.schedule import parse_now
    from star.config import LeaseConfig
    from star.report.store_check import check_store_and_storage

    url = db_url or default_database_url()
    with open_session(url) as session:
        scope = make_scope(session, run, now=parse_now(now) or utcnow(), limit=limit,
                           lease_timeout_s=LeaseConfig().timeout_s)
        report = check_store_and_storage(session, scope)
    where = display_url(url) + (f", run {run}" if run else "")
    if as_json:
        print_json({"store": display_url(url), "run": run, "now": scope.now.isoformat(), "clean": report.clean,
                    "checked": _coverage(report), "violations": [v.as_dict() for v in report.violations],
                    "checks": [{"name": c.name, "promise": c.promise,
                                "ok": all(v.check != c.name for v in report.violations)} for c in report.checks]})
    else:
        _print_report(report, where)
    sys.exit(0 if report.clean else 1)


def _coverage(report: CheckReport) -> dict[str, int]:
    return {"runs": report.runs, "rounds": report.rounds, "done_rounds": report.done_rounds,
            "attempts": report.attempts}


def _print_report(report: CheckReport, where: str) -> None:
    click.echo(f"{where}: {report.runs} run(s), {report.rounds} round(s) ({report.done_rounds} done), "
               f"{report.attempts} attempt(s)")
    width = max(len(check.name) for check in report.checks)
    for check in report.checks:
        found = [v for v in report.violations if v.check == check.name]
        click.echo(f"  {'FAIL' if found else 'ok':<4}  {check.name:<{width}}  {check.promise}")
        for found_one in found:
            _print_violation(found_one)
    broken = len({v.check for v in report.violations})
    click.echo(f"{broken} of {len(report.checks)} invariants violated" if broken
               else f"all {len(report.checks)} invariants hold")


def _print_violation(found: Violation) -> None:
    indent = " " * 8
    click.echo(f"{indent}{found.message}")
    for row in found.rows:
        click.echo(indent + "- " + " ".join(f"{key}={_value(value)}" for key, value in row.items()))
    if found.more:
        click.echo(f"{indent}... and {found.more} more (--limit, up to 10000, lists more; --json prints JSON)")


def _value(value: Any) -> str:
    """One token per value: plain words as they are, anything with spaces or quotes as JSON."""
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"'=" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)

