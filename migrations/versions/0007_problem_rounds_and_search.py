"""problem_rounds (per round and problem, kept by triggers), full-text search of completions, story and flip views

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:10:00

- `problem_rounds`: one row per (round, problem) with attempts, right and
  accepted counts per kind. Triggers on `attempts` keep it exact on insert, on
  a changed verdict (a re-check) and on delete; existing attempts are counted
  here, round by round, with progress on stderr. Stories, flips and run
  comparisons read it instead of the attempts (K times fewer rows).
- Full-text search of `attempts.completion`. Building an inverted index costs
  3-10x more than storing the row (docs/store-benchmark.md), so it is not built
  inside the writer's transaction; what is new is found cheaply and indexed by
  `star db index` (and by `star db upgrade` right after this revision):
  - SQLite: an FTS5 external-content table `attempts_fts` (porter stemmer): no
    second copy of the text. Writers are serialised and rowids only grow, so
    "not indexed yet" is simply `id > max(indexed id)`; triggers remove a
    deleted or edited attempt from the index (only if it was indexed, or FTS5
    would corrupt itself).
  - PostgreSQL: `attempt_search(attempt_id, run_id, round_id, document tsvector)`
    with a GIN index, and `search_queue`, which a statement trigger fills with
    the ids of new attempts (writers commit out of id order, so a high-water
    mark would skip rows). Text configuration `star_search`: English stemming
    without stop words, to match what FTS5 finds.
- `attempts(problem_id)` becomes `(problem_id, round_id)`: a story reads a few
  rounds of one problem at a time.
- Views `problem_story` and `problem_flips` (docs/schema.md).

The SQL is frozen here, not imported from db/, so this revision never changes.
A batch rebuild of `attempts` on SQLite drops its triggers: recreate them from
SQLITE_TRIGGERS below.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# count column -> condition on an attempt row `x`
COUNTS = {
    "direct": "x.kind = 'direct'",
    "direct_correct": "x.kind = 'direct' AND x.correct",
    "direct_accepted": "x.kind = 'direct' AND x.accepted",
    "rationalized": "x.kind = 'rationalized'",
    "rationalized_correct": "x.kind = 'rationalized' AND x.correct",
    "rationalized_accepted": "x.kind = 'rationalized' AND x.accepted",
    "eval": "x.kind = 'eval'",
    "eval_correct": "x.kind = 'eval' AND x.correct",
    "eval_sample": "x.kind = 'eval_sample'",
    "eval_sample_correct": "x.kind = 'eval_sample' AND x.correct",
}
COLUMNS = ", ".join(COUNTS)
_KINDS = ("direct", "rationalized", "eval", "eval_sample")
EMPTY_ROW = " AND ".join(f"{kind} = 0" for kind in _KINDS)  # no attempt left
_PR_EMPTY = " AND ".join(f"pr.{kind} = 0" for kind in _KINDS)


def _ones(alias: str, sign: str = "", *, named: bool = False) -> str:
    """One 0/1 (or 0/-1) expression per count over the row `alias`; `named`: aliased by count."""
    return ", ".join(f"{sign}CASE WHEN {cond.replace('x.', alias + '.')} THEN 1 ELSE 0 END"
                     + (f" AS {name}" if named else "") for name, cond in COUNTS.items())


def _sums(alias: str) -> str:
    return ", ".join(f"sum(CASE WHEN {cond.replace('x.', alias + '.')} THEN 1 ELSE 0 END)" for cond in COUNTS.values())


def _add(target: str) -> str:
    return ", ".join(f"{c} = {target}{c} + excluded.{c}" for c in COUNTS)


_UPSERT_NEW = (f"INSERT INTO problem_rounds (round_id, problem_id, run_id, {COLUMNS}) "
               f"VALUES (new.round_id, new.problem_id, new.run_id, {_ones('new')}) "
               f"ON CONFLICT (round_id, problem_id) DO UPDATE SET {_add('')};")
_SUBTRACT_OLD = ("UPDATE problem_rounds SET "
                 + ", ".join(f"{c} = {c} - CASE WHEN {cond.replace('x.', 'old.')} THEN 1 ELSE 0 END"
                             for c, cond in COUNTS.items())
                 + " WHERE round_id = old.round_id AND problem_id = old.problem_id;")
_DROP_EMPTY_OLD = (f"DELETE FROM problem_rounds WHERE round_id = old.round_id AND problem_id = old.problem_id "
                   f"AND {EMPTY_ROW};")
_INDEXED_OLD = "EXISTS (SELECT 1 FROM attempts_fts_docsize WHERE id = old.id)"

SQLITE_FTS = ("CREATE VIRTUAL TABLE attempts_fts USING fts5(completion, content='attempts', content_rowid='id', "
              "tokenize='porter unicode61')")
SQLITE_TRIGGERS = {
    "attempts_counted": f"CREATE TRIGGER attempts_counted AFTER INSERT ON attempts BEGIN {_UPSERT_NEW} END",
    "attempts_recounted": (
        "CREATE TRIGGER attempts_recounted AFTER UPDATE OF round_id, problem_id, kind, correct, accepted "
        f"ON attempts BEGIN {_SUBTRACT_OLD} {_DROP_EMPTY_OLD} {_UPSERT_NEW} END"),
    "attempts_uncounted": (
        f"CREATE TRIGGER attempts_uncounted AFTER DELETE ON attempts BEGIN {_SUBTRACT_OLD} {_DROP_EMPTY_OLD} "
        "INSERT INTO attempts_fts (attempts_fts, rowid, completion) "
        f"SELECT 'delete', old.id, old.completion WHERE {_INDEXED_OLD}; END"),
    # Completions are never edited by star; if someone does, the index follows.
    "attempts_fts_edited": (
        f"CREATE TRIGGER attempts_fts_edited AFTER UPDATE OF completion ON attempts WHEN {_INDEXED_OLD} BEGIN "
        "INSERT INTO attempts_fts (attempts_fts, rowid, completion) VALUES ('delete', old.id, old.completion); "
        "INSERT INTO attempts_fts (rowid, completion) VALUES (new.id, new.completion); END"),
}

PG_TEXT_CONFIG = [
    "CREATE TEXT SEARCH DICTIONARY star_english_stem (TEMPLATE = snowball, Language = english)",
    "CREATE TEXT SEARCH CONFIGURATION star_search (COPY = english)",
    ("ALTER TEXT SEARCH CONFIGURATION star_search ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, "
     "word, hword, hword_part WITH star_english_stem"),
]
_PG_DELTA = (f"INSERT INTO problem_rounds AS pr (round_id, problem_id, run_id, {COLUMNS}) "
             "SELECT round_id, problem_id, min(run_id), " + ", ".join(f"sum({c})" for c in COUNTS)
             + " FROM ({rows}) d GROUP BY round_id, problem_id ORDER BY round_id, problem_id "
             f"ON CONFLICT (round_id, problem_id) DO UPDATE SET {_add('pr.')}")
_PG_ROWS = "SELECT round_id, problem_id, run_id, {ones} FROM {table} x"
PG_FUNCTIONS = {
    # Statement triggers see the whole batch (the COPY path inserts 2,000 rows per statement) as
    # a transition table: one grouped upsert, in key order so concurrent writers cannot deadlock.
    "star_attempts_inserted": (
        "INSERT INTO search_queue (attempt_id) SELECT id FROM new_rows ORDER BY id; "
        + _PG_DELTA.format(rows=_PG_ROWS.format(ones=_ones("x", named=True), table="new_rows")) + ";"),
    "star_attempts_updated": (
        _PG_DELTA.format(rows=_PG_ROWS.format(ones=_ones("x", "-", named=True), table="old_rows") + " UNION ALL "
                         + _PG_ROWS.format(ones=_ones("x"), table="new_rows")) + "; "
        "DELETE FROM problem_rounds pr USING (SELECT DISTINCT round_id, problem_id FROM old_rows) o "
        f"WHERE pr.round_id = o.round_id AND pr.problem_id = o.problem_id AND {_PR_EMPTY}; "
        "WITH edited AS (SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id "
        "WHERE n.completion IS DISTINCT FROM o.completion), "
        "unindexed AS (DELETE FROM attempt_search s USING edited e WHERE s.attempt_id = e.id) "
        "INSERT INTO search_queue (attempt_id) SELECT id FROM edited ON CONFLICT DO NOTHING;"),
    # Deletes only subtract (a run's rounds may be going away in the same statement); search rows
    # go with their attempt by ON DELETE CASCADE.
    "star_attempts_deleted": (
        "UPDATE problem_rounds pr SET " + ", ".join(f"{c} = pr.{c} - d.{c}" for c in COUNTS)
        + " FROM (SELECT round_id, problem_id, "
        + ", ".join(f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {c}" for c, cond in COUNTS.items())
        + " FROM old_rows x GROUP BY round_id, problem_id) d "
        "WHERE pr.round_id = d.round_id AND pr.problem_id = d.problem_id; "
        "DELETE FROM problem_rounds pr USING (SELECT DISTINCT round_id, problem_id FROM old_rows) o "
        f"WHERE pr.round_id = o.round_id AND pr.problem_id = o.problem_id AND {_PR_EMPTY};"),
}
PG_TRIGGERS = {
    "attempts_inserted": "AFTER INSERT ON attempts REFERENCING NEW TABLE AS new_rows",
    "attempts_updated": "AFTER UPDATE ON attempts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "attempts_deleted": "AFTER DELETE ON attempts REFERENCING OLD TABLE AS old_rows",
}

_STATE = ("CASE WHEN pr.direct > 0 THEN CASE WHEN pr.direct_accepted > 0 THEN 2 "
          "WHEN pr.rationalized_accepted > 0 THEN 1 ELSE 0 END "
          "WHEN pr.eval_correct > 0 THEN 2 ELSE 0 END")
_STATE_NAME = "CASE {0} WHEN 2 THEN 'solved' WHEN 1 THEN 'hint-only' ELSE 'unsolved' END"

PROBLEM_STORY = f"""
CREATE VIEW problem_story AS
SELECT ru.name AS run, r.round_index AS round, p.dataset, p.split, p.external_id, p.id AS problem_id,
       pr.{', pr.'.join(COUNTS)},
       CASE WHEN pr.direct > 0 OR pr.eval > 0 THEN {_STATE_NAME.format(_STATE)} END AS state
FROM problem_rounds pr
JOIN rounds r ON r.id = pr.round_id
JOIN runs ru ON ru.id = pr.run_id
JOIN problems p ON p.id = pr.problem_id
"""

# Per run and problem, over all the run's rounds that attempted it (train: direct attempts; held-out:
# the greedy answer). states: 2 solved, 1 hint-only (no accepted direct, an accepted rationalized one),
# 0 unsolved; `round * 4 + state` carries a round's state through min/max. db/flips.py runs the
# same SQL over a window of rounds.
PROBLEM_FLIPS = f"""
CREATE VIEW problem_flips AS
WITH cells AS (
  SELECT pr.run_id, pr.problem_id, r.round_index AS round, {_STATE} AS state
  FROM problem_rounds pr JOIN rounds r ON r.id = pr.round_id
  WHERE pr.direct > 0 OR pr.eval > 0
), spans AS (
  SELECT run_id, problem_id, min(round) AS first_round, max(round) AS last_round,
         min(round * 4 + state) % 4 AS start_state, max(round * 4 + state) % 4 AS end_state,
         min(CASE WHEN state = 1 THEN round END) AS hint_round,
         max(CASE WHEN state = 2 THEN round END) AS last_solved,
         max(CASE WHEN state < 2 THEN round END) AS last_unsolved
  FROM cells GROUP BY run_id, problem_id
), settled AS (
  SELECT s.run_id, s.problem_id,
         min(CASE WHEN c.round > CASE WHEN s.end_state = 2 THEN s.last_unsolved ELSE s.last_solved END
             THEN c.round END) AS since,
         min(CASE WHEN c.state = 2 AND c.round > s.hint_round THEN c.round END) AS unaided_round
  FROM spans s JOIN cells c ON c.run_id = s.run_id AND c.problem_id = s.problem_id
  WHERE (s.start_state = 2) <> (s.end_state = 2) OR s.last_solved > s.hint_round
  GROUP BY s.run_id, s.problem_id
)
SELECT ru.name AS run, p.dataset, p.split, p.external_id, p.id AS problem_id, s.first_round, s.last_round,
       {_STATE_NAME.format('s.start_state')} AS start_state, {_STATE_NAME.format('s.end_state')} AS end_state,
       CASE WHEN s.start_state = 2 AND s.end_state = 2 THEN 'stable_solved'
            WHEN s.end_state = 2 THEN 'unsolved_to_solved'
            WHEN s.start_state = 2 THEN 'solved_to_regressed'
            ELSE 'stable_unsolved' END AS flip,
       CASE WHEN (s.start_state = 2) <> (s.end_state = 2) THEN t.since END AS flipped_in,
       CASE WHEN t.unaided_round IS NOT NULL THEN s.hint_round END AS hint_round,
       t.unaided_round
FROM spans s JOIN runs ru ON ru.id = s.run_id JOIN problems p ON p.id = s.problem_id
LEFT JOIN settled t ON t.run_id = s.run_id AND t.problem_id = s.problem_id
"""
VIEWS = ("problem_flips", "problem_story")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        'problem_rounds',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('problem_id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in COUNTS],
        sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], name=op.f('fk_problem_rounds_problem_id_problems')),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_problem_rounds_round_id_rounds'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_problem_rounds_run_id_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id', 'problem_id', name=op.f('pk_problem_rounds')),
        sqlite_with_rowid=False,  # the insert trigger's upsert then updates one b-tree, not two
    )
    _count_existing_attempts()
    op.create_index(op.f('ix_problem_rounds_problem_id_round_id'), 'problem_rounds', ['problem_id', 'round_id'])
    op.create_index(op.f('ix_attempts_problem_id_round_id'), 'attempts', ['problem_id', 'round_id'])
    op.drop_index(op.f('ix_attempts_problem_id'), table_name='attempts')
    if dialect == "sqlite":
        op.execute(SQLITE_FTS)
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)
    else:
        _postgres_search()
    op.execute(PROBLEM_STORY)
    op.execute(PROBLEM_FLIPS)


def _postgres_search() -> None:
    for ddl in PG_TEXT_CONFIG:
        op.execute(ddl)
    op.create_table(
        'attempt_search',
        sa.Column('attempt_id', sa.BigInteger(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('document', sa.dialects.postgresql.TSVECTOR(), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name='fk_attempt_search_attempt_id_attempts',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('attempt_id', name='pk_attempt_search'),
    )
    # GIN answers a rare word; (round_id, attempt_id) lets a common word stop at the first page.
    op.execute("CREATE INDEX ix_attempt_search_document ON attempt_search USING gin (document)")
    op.create_index('ix_attempt_search_round_id_attempt_id', 'attempt_search', ['round_id', 'attempt_id'])
    op.create_table('search_queue', sa.Column('attempt_id', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('attempt_id', name='pk_search_queue'))
    # Every attempt stored before this revision waits to be indexed (star db index).
    op.execute("INSERT INTO search_queue (attempt_id) SELECT id FROM attempts")
    for name, body in PG_FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$")
    for name, timing in PG_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {timing} FOR EACH STATEMENT EXECUTE FUNCTION star_{name}()")


def _count_existing_attempts() -> None:
    """Fill problem_rounds from the stored attempts, one round per statement, with progress on stderr."""
    bind = op.get_bind()
    rounds = [row[0] for row in bind.execute(sa.text(
        "SELECT DISTINCT round_id FROM attempts ORDER BY round_id"))]
    started = last = time.monotonic()
    for n, round_id in enumerate(rounds, 1):
        bind.execute(sa.text(
            f"INSERT INTO problem_rounds (round_id, problem_id, run_id, {COLUMNS}) "
            f"SELECT round_id, problem_id, min(run_id), {_sums('x')} FROM attempts x "
            "WHERE round_id = :round GROUP BY round_id, problem_id"), {"round": round_id})
        if time.monotonic() - last > 2 or n == len(rounds):
            last = time.monotonic()
            print(f"0007: counted the attempts of {n}/{len(rounds)} rounds into problem_rounds "
                  f"({last - started:.0f} s)", file=sys.stderr, flush=True)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS attempts_fts")
    else:
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON attempts")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        op.drop_table('search_queue')
        op.drop_table('attempt_search')
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS star_search")
        op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS star_english_stem")
    op.create_index(op.f('ix_attempts_problem_id'), 'attempts', ['problem_id'])
    op.drop_index(op.f('ix_attempts_problem_id_round_id'), table_name='attempts')
    op.drop_index(op.f('ix_problem_rounds_problem_id_round_id'), table_name='problem_rounds')
    op.drop_table('problem_rounds')
