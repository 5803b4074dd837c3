"""Keeping the full-text index of completions up to date (revision 0007), on both backends.

Building an inverted index costs several times more than storing the row
(docs/store-benchmark.md), so writers never pay for it: revision 0007 makes
"what is not indexed yet" cheap to find, and `index_pending` indexes it in
batches that the caller commits (`star db index`, `star db upgrade`, and
`star rationales --search` before it searches).

- SQLite: rows are indexed in id order into the FTS5 table `attempts_fts`;
  writers are serialised and new rowids are always above every stored one, so
  the rows still to index are exactly those above the highest indexed id.
- PostgreSQL: a statement trigger queues the ids of new attempts in
  `search_queue`; `index_pending` takes a batch (SKIP LOCKED, so several
  indexers can run at once) and stores its tsvectors in `attempt_search`.

Like the other store functions these take the session and never commit.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.errors import StoreError

#: attempts indexed per call: one transaction each, so a long backfill can stop and resume
INDEX_BATCH = 2_000
#: PostgreSQL's text search configuration (English stems, no stop words, like FTS5's porter tokenizer)
PG_TEXT_CONFIG = "star_search"
#: What PostgreSQL indexes is the completion with every run of non-alphanumerics made a space, so it
#: splits words where FTS5's unicode61 tokenizer does (its own parser would keep `48/2` or `3.5` as one
#: token). Done here, not with regexp_replace in SQL, which costs the server as much as to_tsvector.
NOT_ALNUM = re.compile(r"[\W_]+")

_SQLITE_INDEXED_UPTO = "SELECT coalesce(max(id), 0) FROM attempts_fts_docsize"
_SQLITE_INDEX = text(
    "INSERT INTO attempts_fts (rowid, completion) SELECT id, completion FROM attempts "
    f"WHERE id > ({_SQLITE_INDEXED_UPTO}) ORDER BY id LIMIT :n")
_PG_TAKE = text(
    "DELETE FROM search_queue WHERE attempt_id IN (SELECT attempt_id FROM search_queue ORDER BY attempt_id "
    "LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING attempt_id")
_PG_READ = text("SELECT id, run_id, round_id, completion FROM attempts WHERE id = ANY(:ids)")
_PG_INDEX = text(
    "INSERT INTO attempt_search (attempt_id, run_id, round_id, document) "
    f"SELECT u.id, u.run_id, u.round_id, to_tsvector('{PG_TEXT_CONFIG}', u.doc) "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:runs AS integer[]), CAST(:rounds AS integer[]), "
    "CAST(:docs AS text[])) AS u(id, run_id, round_id, doc) ON CONFLICT (attempt_id) DO NOTHING")


def dialect_of(session: Session) -> str:
    """`sqlite` or `postgresql`; StoreError for anything else."""
    name = session.get_bind().dialect.name
    if name not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported database dialect {name!r}; use SQLite or PostgreSQL")
    return name


def pending_count(session: Session, *, cap: int | None = None) -> int:
    """Attempts stored but not yet searchable.

    SQLite: the number of ids above the highest indexed one (exact unless attempts
    were deleted there). PostgreSQL: the queue's length, counted up to `cap` rows
    when given (a count of a ten-million-row queue takes a while).
    """
    if dialect_of(session) == "sqlite":
        top = session.scalar(text("SELECT coalesce(max(id), 0) FROM attempts")) or 0
        return max(0, int(top) - int(session.scalar(text(_SQLITE_INDEXED_UPTO)) or 0))
    if cap is None:
        return int(session.scalar(text("SELECT count(*) FROM search_queue")) or 0)
    query = text("SELECT count(*) FROM (SELECT 1 FROM search_queue LIMIT :cap) q")
    return int(session.scalar(query, {"cap": cap}) or 0)


def index_pending(session: Session, *, batch: int = INDEX_BATCH) -> int:
    """Index up to `batch` not-yet-searchable attempts, oldest first; returns how many were taken.

    0 means nothing is left. On SQLite call it first in its transaction: its
    INSERT then takes the write lock before it reads which rows are new.
    """
    if batch < 1:
        raise StoreError(f"index batch must be at least 1, got {batch}")
    if dialect_of(session) == "sqlite":
        return int(session.execute(_SQLITE_INDEX, {"n": batch}).rowcount)
    ids = list(session.scalars(_PG_TAKE, {"n": batch}))
    if ids:
        # A queued attempt deleted since is simply not found here.
        rows = session.execute(_PG_READ, {"ids": ids}).all()
        session.execute(_PG_INDEX, {"ids": [r.id for r in rows], "runs": [r.run_id for r in rows],
                                    "rounds": [r.round_id for r in rows],
                                    "docs": [searchable(r.completion) for r in rows]})
    return len(ids)


def searchable(text_: str) -> str:
    """What PostgreSQL's to_tsvector is given for a completion or a query term (see NOT_ALNUM)."""
    return NOT_ALNUM.sub(" ", text_)
