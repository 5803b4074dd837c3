"""Store commands: `star db upgrade|current|index`, `runs`, `rounds`, `rationales`, `show`, `export`.

Every command takes `--db URL` (default `$STAR_DATABASE_URL`, else ./star.db)
and the query commands take `--json` for machines; without it they print a
table for people. The functions doing the work live in db/ (see
docs/schema.md), so scripts can call them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from star.cli.common import db_option, json_option, open_session, open_sessions, percent, print_json, print_table
from star.cli.indexing import index_all, index_cmd
from star.progress import Progress

if TYPE_CHECKING:  # db/ pulls in SQLAlchemy; commands import it when they run
    from sqlalchemy.orm import Session, sessionmaker

    from db.models import Attempt
    from db.queries import RationaleFilter

#: `star rationales --search` indexes at most this many new attempts itself before searching
INLINE_INDEX_LIMIT = 100_000

# --- star db ------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Manage the store's schema (Alembic migrations)."""


@db_group.command("upgrade")
@db_option
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(db_url: str | None, revision: str) -> None:
    """Migrate the database to the newest schema (or to --revision)."""
    from db import migrate
    from db.engine import reachable_engine
    from db.urls import default_database_url, display_url

    url = db_url or default_database_url()
    engine = reachable_engine(url)
    try:
        before = _revision(engine)
        migrate.upgrade(engine, revision)
        after = _revision(engine)
    finally:
        engine.dispose()
    state = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    click.echo(f"{display_url(url)}: {state} revision {after} (head is {migrate.head_revision()})")
    if after == migrate.head_revision():
        # Revision 0007 leaves the stored attempts to index: do it now, resumably, with progress.
        with open_sessions(url) as sessions:
            indexed = index_all(sessions, progress=Progress())
        if indexed:
            click.echo(f"indexed {indexed} stored attempts for full-text search")


@db_group.command("current")
@db_option
def db_current(db_url: str | None) -> None:
    """Print the database's schema revision and the newest one star knows."""
    from db import migrate
    from db.engine import reachable_engine
    from db.urls import default_database_url, display_url

    url = db_url or default_database_url()
    engine = reachable_engine(url)
    try:
        current = _revision(engine)
    finally:
        engine.dispose()
    click.echo(f"{display_url(url)}: revision {current or 'none'} (head is {migrate.head_revision()})")


def _revision(engine: Any) -> str | None:
    from db import migrate

    with engine.connect() as conn:
        return migrate.current_revision(conn)


# --- star runs / rounds --------------------------------------------------------


@click.command("runs")
@db_option
@json_option
def runs_cmd(db_url: str | None, as_json: bool) -> None:
    """List every run in the store."""
    from db.queries import list_runs

    with open_session(db_url) as session:
        runs = list_runs(session)
    if as_json:
        print_json(runs)
        return
    rows = [[r["name"], r["status"], r["base_model"], r["rounds"], r["last_round"], r["updated_at"][:19],
             r["driver"], r["error"] and _excerpt(r["error"], 50)] for r in runs]
    # The error is cut to 50 characters; `star runs --json` has all of it.
    columns = ["run", "status", "base model", "rounds", "last", "updated", "driver", "error"]
    print_table(columns, rows, empty="no runs yet")


@click.command("rounds")
@click.argument("run")
@db_option
@json_option
def rounds_cmd(run: str, db_url: str | None, as_json: bool) -> None:
    """Per-round summary of RUN: attempts, accepted rationales, training, eval accuracy."""
    from db.store import get_run
    from db.summaries import round_summaries

    with open_session(db_url) as session:
        summaries = round_summaries(session, get_run(session, run))
    if as_json:
        print_json(summaries)
        return
    from star.report.table import exploration_headers, exploration_rows, ledger_headers, ledger_rows, strategy_columns

    strategies = strategy_columns(summaries)
    rows = [
        [s["round"], s["status"], s["attempted"], s["accepted_direct"], s["accepted_rationalized"],
         s["check_errors"], s["train_examples"], s["train_steps"], percent(s["eval_accuracy"]),
         *[percent(s.get(key)) for _, key in strategies], sum(s["stored"].values()), _dataset(s)]
        for s in summaries
    ]
    columns = ["round", "status", "attempted", "direct", "rationalized", "check err", "train ex", "steps",
               "eval acc", *[header for header, _ in strategies], "stored", "dataset"]
    print_table(columns, rows, empty=f"run {run!r} has no rounds yet")
    for heading, headers, more_rows in (
            ("Refusals and exploration on the training pool", exploration_headers(), exploration_rows(summaries)),
            ("Tokens generated, and what the training pool's bought", ledger_headers(), ledger_rows(summaries))):
        if more_rows:
            click.echo(heading)
            print_table(headers, more_rows, empty="")


def _dataset(summary: dict[str, Any]) -> str | None:
    """The training data the round saw: row count and the head of its content hash."""
    if summary.get("dataset_hash") is None:
        return None
    return f"{summary['dataset_rows']} rows {summary['dataset_hash'][:10]}"


@click.command("rationales")
@click.argument("run")
@click.option("--round", "round_index", type=int, default=None, help="Only this round.")
@click.option("--problem", default=None, metavar="ID", help="Only this problem (its external id).")
@click.option("--direct", "kind", flag_value="direct", help="Only direct attempts.")
@click.option("--rationalized", "kind", flag_value="rationalized", help="Only rationalized attempts.")
@click.option("--eval", "kind", flag_value="eval", help="Only greedy evaluation attempts.")
@click.option("--eval-samples", "kind", flag_value="eval_sample",
              help="Only sampled evaluation attempts (maj@k, pass@k).")
@click.option("--correct/--incorrect", default=None, help="Only correct (or incorrect) attempts.")
@click.option("--accepted/--not-accepted", default=None, help="Only attempts used for training (or not).")
@click.option("--refusal", default=None, metavar="REASON",
              help="Only right attempts refused for REASON (no_work, answer_first, wrong_steps) or for any.")
@click.option("--contains", default=None, metavar="TEXT", help="Completion contains TEXT (any case; a scan).")
@click.option("--search", default=None, metavar="QUERY",
              help='Full-text search of completions (indexed): words, "a phrase", a OR b, -word.')
@click.option("--after", "after_id", type=int, default=None, metavar="ID",
              help="Only attempts listed after attempt ID (the next page).")
@click.option("--limit", type=int, default=20, show_default=True, help="At most N attempts.")
@db_option
@json_option
def rationales_cmd(
    run: str, round_index: int | None, problem: str | None, kind: str | None, correct: bool | None,
    accepted: bool | None, refusal: str | None, contains: str | None, search: str | None, after_id: int | None,
    limit: int,
    db_url: str | None, as_json: bool,
) -> None:
    """List stored attempts (rationales) of RUN, by round and oldest first (--search: in id order)."""
    from db.queries import RationaleFilter, list_rationales
    from db.search import parse_search, search_rationales

    flt = RationaleFilter(run=run, round_index=round_index, problem=problem, kind=kind, correct=correct,
                          contains=contains, limit=limit, search=search, accepted=accepted, after_id=after_id,
                          refusal=refusal)
    if search is not None:
        parse_search(search)  # a query with no word fails before the store is touched
    with open_sessions(db_url) as sessions:
        if search is not None:
            _index_before_search(sessions, quiet=as_json)
        with sessions() as session:
            _print_rationales(session, flt, search_rationales if search is not None else list_rationales, as_json)


def _index_before_search(sessions: sessionmaker[Session], *, quiet: bool) -> None:
    """Index what is new, so a search finds it; a large backlog is `star db index`'s job, not a query's."""
    from db.search_index import pending_count

    with sessions() as session:
        pending = pending_count(session, cap=INLINE_INDEX_LIMIT + 1)
    if pending <= INLINE_INDEX_LIMIT:
        index_all(sessions, progress=Progress(enabled=not quiet))
        return
    click.echo(f"note: more than {INLINE_INDEX_LIMIT:,} stored attempts are not indexed yet and are not searched; "
               "run `star db index` (it shows progress and can be stopped and resumed)", err=True)


def _print_rationales(session: Session, flt: RationaleFilter,
                      find: Callable[[Session, RationaleFilter], list[Attempt]], as_json: bool) -> None:
    from db.queries import attempt_dict

    attempts = find(session, flt)
    if as_json:
        print_json([attempt_dict(a) for a in attempts])
        return
    rows = [[a.id, a.round.index, a.problem.external_id, a.kind, a.sample_index, a.correct,
             a.accepted, a.refusal, a.extracted, _excerpt(a.completion)] for a in attempts]
    columns = ["id", "round", "problem", "kind", "#", "correct", "accepted", "refused", "answer", "completion"]
    print_table(columns, rows, empty="no attempts match", clip_last=True)


def _excerpt(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@click.command("show")
@click.argument("attempt_id", type=int)
@db_option
@json_option
def show_cmd(attempt_id: int, db_url: str | None, as_json: bool) -> None:
    """Everything about one attempt: problem, prompts, completion, verdict."""
    from db.queries import attempt_dict, get_attempt

    with open_session(db_url) as session:
        info = attempt_dict(get_attempt(session, attempt_id))
    if as_json:
        print_json(info)
        return
    _print_attempt(info)


def _print_attempt(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.rule import Rule

    console = Console(highlight=False)
    texts = ("question", "prompt", "train_prompt", "completion")
    for key, value in info.items():
        if key not in texts:
            console.print(f"{key:>17}: {value}", markup=False)
    for key in texts:
        if key == "train_prompt" and info[key] == info["prompt"]:
            continue  # direct and eval attempts train on the prompt they saw
        console.print(Rule(key))
        console.print(info[key], markup=False)


# --- star export -------------------------------------------------------------------


@click.command("export")
@click.argument("run")
@click.option("--round", "round_index", type=int, default=None, help="Only this round (default: all).")
@click.option("--format", "fmt", required=True, metavar="jsonl|parquet|hf", help="Output format.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output path (must not exist).")
@click.option("--pairs", is_flag=True, help="DPO rows (prompt, chosen, rejected) instead of SFT rows.")
@db_option
@json_option
def export_cmd(
    run: str, round_index: int | None, fmt: str, out: Path, pairs: bool, db_url: str | None, as_json: bool
) -> None:
    """Write RUN's accepted rationales as prompt/completion rows for TRL's SFTTrainer."""
    from db.export import check_destination, export

    check_destination(fmt, out)  # before opening the database: fail fast on a typo
    with open_session(db_url) as session:
        count = export(session, run, round_index=round_index, fmt=fmt, out=out, pairs=pairs)
    if as_json:
        print_json({"run": run, "round": round_index, "format": fmt, "out": str(out.resolve()),
                    "kind": "pairs" if pairs else "rows", "count": count})
        return
    click.echo(f"wrote {count} {'pairs' if pairs else 'rows'} to {out}")


db_group.add_command(index_cmd)

COMMANDS: list[click.Command] = [db_group, runs_cmd, rounds_cmd, rationales_cmd, show_cmd, export_cmd]
