"""Full-text search of completions: `star rationales RUN --search QUERY` and the web view's search.

A query is words (all must occur, English stems: `carry` finds "carries"),
`"a phrase"` (the words in that order), `a OR b`, and `-word` (must not
occur). It is parsed here, never handed to the database's own query syntax,
and rendered for each backend: an FTS5 MATCH expression on SQLite (every term
a quoted string, so no input is an FTS5 operator) and a tsquery built with
phraseto_tsquery on PostgreSQL, so both find the same attempts.

Results come in attempt id order (the order they were stored), a page at a
time (`after_id`). Only indexed attempts are found: db/search_index.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, Select, any_, column, func, literal, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from db.errors import StoreError
from db.models import Attempt, Round
from db.queries import ATTEMPT_CONTEXT, RationaleFilter, attempt_conditions, check_filter, in_rounds, round_ids
from db.search_index import PG_TEXT_CONFIG, dialect_of, searchable
from db.store import get_run

MAX_TERMS = 32
#: PostgreSQL: rows read in id order for a page of a common word before the GIN index is asked
WALK_ROWS = 2_000
# A quoted phrase (the closing quote may be missing), with an optional leading minus; or a bare word.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w")
_FTS = table("attempts_fts", column("rowid"))
_PG = table("attempt_search", column("attempt_id"), column("round_id"), column("document"))


@dataclass(frozen=True)
class ParsedSearch:
    """All clauses must match (each: any of its alternatives), none of the `excluded`."""

    clauses: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...]


def parse_search(query: str) -> ParsedSearch:
    """Words, "phrases", OR and -exclusions; StoreError when nothing is left to look for."""
    clauses: list[list[str]] = []
    excluded: list[str] = []
    join_next = False
    for match in _TOKEN.finditer(query):
        minus, phrase, bare = match.groups()
        if bare == "OR":
            join_next = bool(clauses)
            continue
        negate = bool(minus) or (bare is not None and bare.startswith("-") and len(bare) > 1)
        term = phrase if phrase is not None else bare.removeprefix("-") if negate else bare
        if not _WORD.search(term or ""):
            join_next = False  # punctuation alone finds nothing on either backend
            continue
        if negate:
            excluded.append(term.strip())
        elif join_next:
            clauses[-1].append(term.strip())
        else:
            clauses.append([term.strip()])
        join_next = False
    if not clauses:
        raise StoreError(f"--search {query!r} has no word to look for; give at least one word, "
                         'e.g. --search carry or --search \'"carry the one"\'')
    if sum(map(len, clauses)) + len(excluded) > MAX_TERMS:
        raise StoreError(f"--search has more than {MAX_TERMS} terms; shorten the query")
    return ParsedSearch(tuple(map(tuple, clauses)), tuple(excluded))


def fts5_expression(parsed: ParsedSearch) -> str:
    """The FTS5 MATCH expression: every term a quoted string, so none is read as an operator."""
    def quote(term: str) -> str:
        return '"' + term.replace('"', '""') + '"'

    expression = " AND ".join("(" + " OR ".join(map(quote, alts)) + ")" for alts in parsed.clauses)
    for term in parsed.excluded:
        expression = f"({expression}) NOT {quote(term)}"
    return expression


def tsquery(parsed: ParsedSearch) -> ColumnElement:
    """The same query as a PostgreSQL tsquery (phraseto_tsquery per term, combined with its functions)."""
    config = literal_column(f"'{PG_TEXT_CONFIG}'::regconfig")

    def phrase(term: str) -> ColumnElement:
        return func.phraseto_tsquery(config, searchable(term))  # split as the documents are

    clauses = []
    for alts in parsed.clauses:
        clause = phrase(alts[0])
        for alt in alts[1:]:
            clause = func.tsquery_or(clause, phrase(alt))
        clauses.append(clause)
    combined = clauses[0]
    for clause in clauses[1:]:
        combined = func.tsquery_and(combined, clause)
    for term in parsed.excluded:
        combined = func.tsquery_and(combined, func.tsquery_not(phrase(term)))
    return combined


def search_rationales(session: Session, flt: RationaleFilter) -> list[Attempt]:
    """Attempts of `flt.run` whose completion matches `flt.search`, with `flt`'s other filters.

    Unknown run or round, or a query with no word -> StoreError.
    """
    check_filter(flt)
    parsed = parse_search(flt.search or "")
    ids = round_ids(session, get_run(session, flt.run), flt.round_index)
    found = matching_ids(session, parsed, ids, flt) if ids else []
    if not found:
        return []
    query = select(Attempt).options(*ATTEMPT_CONTEXT).where(Attempt.id.in_(found)).order_by(Attempt.id)
    return list(session.scalars(query))


def matching_ids(session: Session, parsed: ParsedSearch, rounds: list[int], flt: RationaleFilter) -> list[int]:
    """The ids of the first page of matches (after `flt.after_id`), in id order."""
    low, high = id_range(session, rounds)
    after = flt.after_id if flt.after_id is not None and flt.after_id >= low else low - 1
    if dialect_of(session) == "sqlite":
        return list(session.scalars(index_query(session, parsed, rounds, flt, after=after, high=high,
                                                limit=flt.limit)))
    return _postgres_ids(session, parsed, rounds, flt, after=after, high=high)


def index_query(session: Session, parsed: ParsedSearch, rounds: list[int], flt: RationaleFilter, *,
                after: int, high: int, limit: int) -> Select:
    """Matches with ids in (after, high], in id order, found through the full-text index alone."""
    others = attempt_conditions(flt)
    if dialect_of(session) == "sqlite":
        # FTS5 walks a term's rowids in order and can seek: bounding them to the rounds' id range
        # lets a common word stop at the first page instead of reading other runs' rows.
        key = _FTS.c.rowid
        match = text("attempts_fts MATCH :fts_query").bindparams(fts_query=fts5_expression(parsed))
        return (select(key).select_from(_FTS.join(Attempt, Attempt.id == key))
                .where(match, key > after, key <= high, in_rounds(session, rounds), *others)
                .order_by(key).limit(limit))
    # `+ 0` hides the columns from the b-tree indexes, so PostgreSQL cannot choose to walk the
    # table in id order hoping for an early match (with a rare word it would read every row).
    key = _PG.c.attempt_id
    return (select(key).select_from(_PG.join(Attempt, Attempt.id == key))
            .where(_PG.c.document.op("@@")(tsquery(parsed)), (_PG.c.round_id + 0) == any_(_ints(rounds)),
                   key > after, key <= high, *others)
            .order_by(key + 0).limit(limit))


def _postgres_ids(session: Session, parsed: ParsedSearch, rounds: list[int], flt: RationaleFilter, *,
                  after: int, high: int) -> list[int]:
    """A common word: the next WALK_ROWS rows in id order hold a page. A rarer one: the GIN index.

    PostgreSQL's planner cannot tell a word in a third of the rows from one in a millionth
    (its statistics keep the frequent words only), and either plan is slow for the other kind.
    """
    prefix = (select(_PG.c.attempt_id.label("id"), _PG.c.round_id, _PG.c.document)
              .where(_PG.c.attempt_id > after, _PG.c.attempt_id <= high)
              .order_by(_PG.c.attempt_id).limit(WALK_ROWS).subquery())
    walked, last = session.execute(select(func.count(), func.max(prefix.c.id))).one()
    found = list(session.scalars(
        select(prefix.c.id).select_from(prefix.join(Attempt, Attempt.id == prefix.c.id))
        .where(prefix.c.document.op("@@")(tsquery(parsed)), prefix.c.round_id == any_(_ints(rounds)),
               *attempt_conditions(flt))
        .order_by(prefix.c.id).limit(flt.limit)))
    if len(found) == flt.limit or walked < WALK_ROWS:
        return found
    rest = index_query(session, parsed, rounds, flt, after=last, high=high, limit=flt.limit - len(found))
    return found + list(session.scalars(rest))


def _ints(values: list[int]) -> ColumnElement:
    return literal(values, ARRAY(Integer))


def id_range(session: Session, rounds: list[int]) -> tuple[int, int]:
    """The lowest and highest attempt id of these rounds, in one statement: two probes of the
    (round_id, id) index per round, made by the database. A round trip per probe cost 70 of a
    whole 100-round run's 80 ms search at ten million attempts (docs/store-benchmark.md)."""
    if not rounds:
        return (0, -1)
    first = select(func.min(Attempt.id)).where(Attempt.round_id == Round.id).scalar_subquery()
    last = select(func.max(Attempt.id)).where(Attempt.round_id == Round.id).scalar_subquery()
    per_round = select(first.label("low"), last.label("high")).where(Round.id.in_(rounds)).subquery()
    low, high = session.execute(select(func.min(per_round.c.low), func.max(per_round.c.high))).one()
    return (low or 0, high if high is not None else -1)
