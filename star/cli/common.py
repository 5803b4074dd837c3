"""What the store commands share: the --db and --json options, read sessions on an existing store,
and printing JSON or a table."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # db/ pulls in SQLAlchemy; commands import it when they run
    from sqlalchemy.orm import Session, sessionmaker

F = TypeVar("F", bound=Callable[..., Any])


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db_url",
        metavar="URL",
        default=None,
        help="Database URL (default: $STAR_DATABASE_URL, else sqlite:///star.db in the cwd).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


@contextmanager
def open_session(db_url: str | None) -> Iterator[Session]:
    """A read session on an existing, up-to-date store (no file is created)."""
    with open_sessions(db_url) as sessions, sessions() as session:
        yield session


@contextmanager
def open_sessions(db_url: str | None) -> Iterator[sessionmaker[Session]]:
    """Sessions on an existing, up-to-date store, for commands that write between long steps."""
    from db.engine import open_store, session_factory
    from db.urls import default_database_url

    engine = open_store(db_url or default_database_url(), pool_size=1, max_overflow=0, create=False)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def print_table(
    columns: list[str], rows: list[list[Any]], *, empty: str, clip_last: bool = False
) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        click.echo(empty)
        return
    table = Table(*columns, show_lines=False, highlight=False)
    if clip_last:  # one line per row: long text is cut, not wrapped
        table.columns[-1].no_wrap = True
        table.columns[-1].overflow = "ellipsis"
    for row in rows:
        # Model output may contain [brackets]; plain strings are not parsed as rich markup.
        table.add_row(*(_cell(v) for v in row))
    # A pipe or a file gets the whole table (no cut cells); a terminal its own width.
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200).print(table)


def _cell(value: Any) -> Any:
    from rich.text import Text

    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    return Text(str(value))


def percent(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.1f}%"


# --- star rationales / show ------------------------------------------------------
