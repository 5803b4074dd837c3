"""The rationale store's tables, as SQLAlchemy 2.x typed ORM classes.

The schema only ever changes through an Alembic revision in `migrations/`;
`alembic check` (run by the tests) fails if these classes and the migrations
drift apart. docs/schema.md documents every column and view for people who
query the database directly.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym

ATTEMPT_KINDS = ("direct", "rationalized", "eval", "eval_sample")
#: why a right attempt was not accepted (attempts.refusal): a wrong step under `accept: answer_and_steps`,
#: or the work rule of `require_work` (no checkable work; the answer written before the step computing it)
REFUSALS = ("wrong_steps", "no_work", "answer_first", "not_computed")
#: a round's checkpoint ("policy") or a verifier trained on a run's attempts (star/verifier)
MODEL_KINDS = ("policy", "verifier")
#: the condition of the partial unique index that allows one policy checkpoint per round
POLICY_ONLY = text("kind = 'policy'")

# Deterministic constraint names, so migrations can drop/alter them by name on
# both backends (SQLite otherwise leaves them unnamed).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL so people can use its operators from psql; JSON text elsewhere.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-assigns ids to an INTEGER PRIMARY KEY (the rowid alias).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends.

    SQLite stores no zone and hands back naive values; they are UTC (star only
    writes utcnow() or CURRENT_TIMESTAMP), so mark them so, and Python code sees
    the same values from SQLite as from PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _created() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())


def _updated() -> Mapped[datetime]:
    return mapped_column(
        UtcDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Run(Base):
    """One STaR run: a named sequence of rounds sharing a config."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[str] = mapped_column(String(32), default="created")
    base_model: Mapped[str] = mapped_column(Text)
    # Why the run last failed (first line of the exception); NULL once it runs again.
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    rounds: Mapped[list[Round]] = relationship(back_populates="run", order_by="Round.index")


class RunLease(Base):
    """The one driver allowed to run a run; a row per run while a driver holds it.

    run_id is the primary key, so two drivers racing to insert the row cannot
    both succeed; a driver whose heartbeat is older than the lease timeout is
    taken over by a conditional UPDATE (db/leases.py).
    """

    __tablename__ = "run_leases"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    # Random per driver process: a reused pid on another host never matches.
    token: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    # Ray Jobs submission id when the driver runs as a job (`star submit`).
    job_id: Mapped[str | None] = mapped_column(String(255))
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Round(Base):
    """Round `index` of a run; round 0 evaluates the starting model."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("run_id", "round_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    # "index" is an SQL keyword in SQLite, so the column is round_index.
    index: Mapped[int] = mapped_column("round_index", Integer)
    round_index = synonym("index")
    status: Mapped[str] = mapped_column(String(32), default="pending")
    model_in: Mapped[str | None] = mapped_column(Text)
    model_out: Mapped[str | None] = mapped_column(Text)
    timings: Mapped[dict[str, float]] = mapped_column(JsonDoc, default=dict)
    # Counts the loop reports (NULL = not reported yet); unknown keys go to extra_counts.
    attempted: Mapped[int | None] = mapped_column(Integer)
    accepted_direct: Mapped[int | None] = mapped_column(Integer)
    accepted_rationalized: Mapped[int | None] = mapped_column(Integer)
    train_examples: Mapped[int | None] = mapped_column(Integer)
    train_steps: Mapped[int | None] = mapped_column(Integer)
    extra_counts: Mapped[dict[str, int]] = mapped_column(JsonDoc, default=dict)
    # The training data the round saw (a run's pool may grow between nightly firings).
    dataset_hash: Mapped[str | None] = mapped_column(String(64))
    dataset_rows: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    run: Mapped[Run] = relationship(back_populates="rounds")


class Problem(Base):
    """A task problem, shared by every run that uses the same dataset and split."""

    __tablename__ = "problems"
    __table_args__ = (UniqueConstraint("dataset", "split", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(String(200))
    split: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    gold: Mapped[str] = mapped_column(Text)
    # `metadata` is reserved on declarative classes; the column keeps the plain name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JsonDoc, default=dict)
    created_at: Mapped[datetime] = _created()


class Attempt(Base):
    """One sampled completion for one problem in one round, right or wrong."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("round_id", "problem_id", "kind", "sample_index"),
        CheckConstraint(f"kind IN {ATTEMPT_KINDS!r}", name="kind"),
        # `star rationales` and exports read rounds in (round_id, id) order.
        Index(None, "round_id", "id"),
        # --problem, a problem's story (star problem) and DPO pairing look attempts up by
        # problem, and the story reads a few rounds of it at a time (revision 0007).
        Index(None, "problem_id", "round_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # run_id is implied by round_id; stored so run-wide queries need no join.
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    kind: Mapped[str] = mapped_column(String(16))
    sample_index: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    train_prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    extracted: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    correct: Mapped[bool]
    accepted: Mapped[bool]
    steps_ok: Mapped[bool | None]
    # Why a correct attempt was not accepted (star.loop.acceptance.REFUSALS; NULL: accepted, wrong,
    # or stored before revision 0009), and the key of its reasoning path (NULL unless correct).
    refusal: Mapped[str | None] = mapped_column(String(32))
    path_key: Mapped[str | None] = mapped_column(String(16))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()

    run: Mapped[Run] = relationship()
    round: Mapped[Round] = relationship()
    problem: Mapped[Problem] = relationship()


class ProblemRound(Base):
    """What happened to one problem in one round: attempts per kind, how many right, how many accepted.

    Maintained by triggers on `attempts` (revision 0007: on insert, on a changed
    verdict, on delete), never written by star itself, so it agrees with the
    attempts whoever writes them. A problem's story, flips and run comparisons
    read these ~K times fewer rows instead of the attempts.
    """

    __tablename__ = "problem_rounds"
    # WITHOUT ROWID on SQLite: rows live in their primary key's b-tree, so the per-attempt upsert
    # of the insert trigger updates one b-tree instead of two.
    __table_args__ = (Index(None, "problem_id", "round_id"), {"sqlite_with_rowid": False})

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    direct: Mapped[int] = mapped_column(Integer, default=0)
    direct_correct: Mapped[int] = mapped_column(Integer, default=0)
    direct_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rationalized: Mapped[int] = mapped_column(Integer, default=0)
    rationalized_correct: Mapped[int] = mapped_column(Integer, default=0)
    rationalized_accepted: Mapped[int] = mapped_column(Integer, default=0)
    eval: Mapped[int] = mapped_column(Integer, default=0)
    eval_correct: Mapped[int] = mapped_column(Integer, default=0)
    eval_sample: Mapped[int] = mapped_column(Integer, default=0)
    eval_sample_correct: Mapped[int] = mapped_column(Integer, default=0)


class FlipSpan(Base):
    """A problem's span over all of a run's rounds, as `star flips` reads it (revision 0008).

    A copy of what db/flips.py's window query computes over `problem_rounds`,
    taken when a round finishes (db/flips.py `snapshot_flips`), so the flips of
    a whole run are one read of a row per problem instead of an aggregate over
    a row per problem and round. `flip_snapshots` says which rounds it covers.
    """

    __tablename__ = "flip_spans"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    split: Mapped[str] = mapped_column(String(8), primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), primary_key=True)
    first_round: Mapped[int] = mapped_column(Integer)
    last_round: Mapped[int] = mapped_column(Integer)
    start_state: Mapped[int] = mapped_column(Integer)
    end_state: Mapped[int] = mapped_column(Integer)
    since: Mapped[int | None] = mapped_column(Integer)
    hint_round: Mapped[int | None] = mapped_column(Integer)
    unaided_round: Mapped[int | None] = mapped_column(Integer)


class FlipSnapshot(Base):
    """Which rounds a run's `flip_spans` of one split cover: their ids, in order, comma-separated."""

    __tablename__ = "flip_snapshots"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    split: Mapped[str] = mapped_column(String(8), primary_key=True)
    round_ids: Mapped[str] = mapped_column(Text)
    taken_at: Mapped[datetime] = _created()


#: Full-text search objects that exist on one backend only (revision 0007), kept out of
#: `alembic check`: SQLite's FTS5 table and its shadow tables; PostgreSQL's tsvector table and
#: the queue of attempts waiting to be indexed. db/search_index.py reads and writes them.
SEARCH_TABLES = frozenset({
    "attempts_fts", "attempts_fts_data", "attempts_fts_idx", "attempts_fts_docsize", "attempts_fts_config",
    "attempts_fts_content", "attempt_search", "search_queue",
})


class Model(Base):
    """A model of a run: the checkpoint a round trained, or a verifier trained on its attempts.

    `kind` = "policy": the round's checkpoint (one per round). `kind` =
    "verifier": a scorer of rationales trained on the attempts of rounds up to
    `round_id`'s (any number per round; star/verifier).
    """

    __tablename__ = "models"
    __table_args__ = (
        CheckConstraint(f"kind IN {MODEL_KINDS!r}", name="kind"),
        # One policy checkpoint per round; verifiers are not limited (a partial unique index).
        Index("uq_models_policy_round_id", "round_id", unique=True,
              sqlite_where=POLICY_ONLY, postgresql_where=POLICY_ONLY),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="policy", server_default="policy")
    path: Mapped[str] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(Text)
    base: Mapped[str] = mapped_column(Text)
    train_examples: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_at: Mapped[datetime] = _created()

    run: Mapped[Run] = relationship()
    round: Mapped[Round] = relationship()


class Evaluation(Base):
    """One metric of one round on one split, e.g. ("eval", "accuracy/digits=3")."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("round_id", "split", "metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    split: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = _created()

    round: Mapped[Round] = relationship()


FIRING_STATUSES = ("running", "succeeded", "failed", "skipped", "missed")


class Schedule(Base):
    """A cron schedule that continues one run by a few rounds per firing (star schedule add)."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # One schedule per run: two schedules on one run would race for its rounds.
    run_name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    rounds_per_firing: Mapped[int] = mapped_column(Integer, default=1)
    address: Mapped[str | None] = mapped_column(Text)
    max_retries: Mapped[int] = mapped_column(Integer, default=2)
    retry_backoff_s: Mapped[int] = mapped_column(Integer, default=300)
    grace_s: Mapped[int] = mapped_column(Integer, default=12 * 3600)
    notify: Mapped[str | None] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Firing(Base):
    """One slot of a schedule: fired, skipped or missed; unique per (schedule, slot)."""

    __tablename__ = "firings"
    __table_args__ = (
        UniqueConstraint("schedule_id", "slot"),
        CheckConstraint(f"status IN {FIRING_STATUSES!r}", name="status"),
        # The reaper and the overlap check look for running firings.
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    slot: Mapped[datetime] = mapped_column(UtcDateTime())
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    run_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The round this slot brings the run to; retries of the slot keep it.
    target_round: Mapped[int | None] = mapped_column(Integer)
    rounds: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    job_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _created()

    schedule: Mapped[Schedule] = relationship()
