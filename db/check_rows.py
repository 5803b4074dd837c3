"""What `star db check` finds and how far it looks: violations, the scope, capped row listings.

A check never prints: it returns `Violation`s, each naming the invariant, one
line about what is wrong, how many rows break it (`total`) and the first
`limit` of them, so a store with a million duplicated keys yields one
violation with a handful of rows, not a million lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.orm import Session

from db.models import Attempt, Round, Run


@dataclass(frozen=True)
class Violation:
    """One broken invariant: what is wrong and the rows involved (at most the scope's limit)."""

    check: str
    message: str
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def more(self) -> int:
        """Rows that break the invariant but are not listed."""
        return self.total - len(self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "message": self.message, "total": self.total, "rows": self.rows,
                "more": self.more}


@dataclass(frozen=True)
class CheckScope:
    """Which part of the store a check looks at, and as of when."""

    runs: tuple[Run, ...]  # the runs checked (one, or every run)
    whole_store: bool  # no RUN given: firings of every schedule too, even of runs not created yet
    now: datetime  # leases and firings are judged as of this instant
    limit: int  # rows listed per violation
    lease_timeout_s: float  # for runs whose stored config sets no lease.timeout_s

    @property
    def run_ids(self) -> list[int]:
        return [run.id for run in self.runs]

    @property
    def run_names(self) -> list[str]:
        return [run.name for run in self.runs]


#: what a check is: a function of the session and the scope; an empty list means the invariant holds
Finder = Callable[[Session, CheckScope], list[Violation]]


@dataclass(frozen=True)
class Check:
    """One invariant of the store: its name, the promise in words, and the function that checks it."""

    name: str
    promise: str
    find: Finder


def rounds_in_scope(scope: CheckScope) -> ColumnElement[bool]:
    """A WHERE clause keeping the rounds of the runs in scope."""
    return true() if scope.whole_store else Round.run_id.in_(scope.run_ids)


def attempts_in_scope(scope: CheckScope) -> ColumnElement[bool]:
    """A WHERE clause keeping the attempts of the runs in scope (no filter for the whole store)."""
    if scope.whole_store:
        return true()
    # Through the round: the attempts' own run_id is not indexed, their round_id is.
    return Attempt.round_id.in_(select(Round.id).where(rounds_in_scope(scope))) if scope.runs else false()


def capped(session: Session, query: Select[Any], limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(how many rows `query` has, its first `limit` rows as plain dicts)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if total == 0:
        return 0, []
    return int(total), [plain(row) for row in session.execute(query.limit(limit)).mappings()]


def violation(check: str, message: str, total: int, rows: list[dict[str, Any]]) -> list[Violation]:
    """`[Violation]` when some row breaks the invariant, else `[]`."""
    return [Violation(check, message, total, rows)] if total else []


def first(rows: Iterable[dict[str, Any]], limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(how many rows, the first `limit`) of rows computed in Python."""
    total, kept = 0, []
    for row in rows:
        total += 1
        if len(kept) < limit:
            kept.append(row)
    return total, kept


def plain(row: Any) -> dict[str, Any]:
    """A result row as JSON-ready values (times as ISO 8601 text)."""
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in dict(row).items()}


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
