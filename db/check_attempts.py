"""`star db check`, attempts: one row per key, accepted means correct, no hint in a training prompt.

Each function is one invariant of docs/schema.md's `attempts` table, asked in
SQL (the hint rule's fallback, for rows SQL cannot judge, runs in Python over
those rows only). Like every query in db/, they take the session and never
commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from db.check_rows import CheckScope, Violation, attempts_in_scope, capped, first, plain, plural, violation
from db.models import Attempt, Problem, Round, Run

#: the value of a run config's `accept` that also requires every checkable step to be right
ANSWER_AND_STEPS = "answer_and_steps"
RATIONALIZED = "rationalized"


def attempt_rows(*extra: Any) -> Select[Any]:
    """Attempts as the rows a violation lists: id, run, round, problem (external id), kind, sample."""
    return (
        select(Attempt.id.label("attempt"), Run.name.label("run"), Round.index.label("round"),
               Problem.external_id.label("problem"), Attempt.kind.label("kind"),
               Attempt.sample_index.label("sample"), *extra)
        .select_from(Attempt)
        .join(Round, Round.id == Attempt.round_id)
        .join(Run, Run.id == Round.run_id)
        .join(Problem, Problem.id == Attempt.problem_id)
    )


def duplicate_attempts(session: Session, scope: CheckScope) -> list[Violation]:
    """At most one attempt per (run, round, problem, kind, sample); the unique key makes this
    hold unless the key's constraint was dropped (a manual edit, a table rebuilt without it)."""
    key = (Attempt.round_id, Attempt.problem_id, Attempt.kind, Attempt.sample_index)
    # Group the attempts alone first (an index-only scan on a healthy store), then name the few keys.
    dups = (
        select(*key, func.count().label("copies"), func.min(Attempt.id).label("first_id"),
               func.max(Attempt.id).label("last_id"))
        .where(attempts_in_scope(scope)).group_by(*key).having(func.count() > 1).subquery()
    )
    query = (
        select(Run.name.label("run"), Round.index.label("round"), Problem.external_id.label("problem"),
               dups.c.kind, dups.c.sample_index.label("sample"), dups.c.copies, dups.c.first_id, dups.c.last_id)
        .select_from(dups)
        .join(Round, Round.id == dups.c.round_id)
        .join(Run, Run.id == Round.run_id)
        .join(Problem, Problem.id == dups.c.problem_id)
        .order_by(Run.name, Round.index, Problem.external_id, dups.c.kind, dups.c.sample_index)
    )
    total, rows = capped(session, query, scope.limit)
    return violation("attempt_keys", f"{plural(total, 'attempt key')} stored more than once "
                     "(first_id..last_id are the ids of its copies)", total, rows)


def misfiled_attempts(session: Session, scope: CheckScope) -> list[Violation]:
    """An attempt's run_id (stored so run-wide SQL needs no join) is its round's run."""
    stored_run = aliased(Run)
    query = (
        attempt_rows(stored_run.name.label("attempt_run"))
        .join(stored_run, stored_run.id == Attempt.run_id, isouter=True)
        .where(attempts_in_scope(scope), Attempt.run_id != Round.run_id)
        .order_by(Attempt.id)
    )
    total, rows = capped(session, query, scope.limit)
    return violation("attempt_runs", f"{plural(total, 'attempt')} whose run_id is not its round's run "
                     "(attempt_run is the run it claims)", total, rows)


def requires_steps(config: Any) -> bool:
    """Whether a run's stored config asks for `accept: answer_and_steps` (star's default is `answer`)."""
    return isinstance(config, dict) and config.get("accept") == ANSWER_AND_STEPS


def unearned_acceptances(session: Session, scope: CheckScope) -> list[Violation]:
    """Every accepted attempt is correct, not refused, and steps-ok in runs that accept on answer and steps;
    a refusal (attempts.refusal) is only ever the reason a correct attempt was not accepted."""
    strict = [run.id for run in scope.runs if requires_steps(run.config)]
    steps_missing = and_(Round.run_id.in_(strict), or_(Attempt.steps_ok.is_(None), Attempt.steps_ok.is_(False)))
    unearned = and_(Attempt.accepted.is_(True),
                    or_(Attempt.correct.is_(False), steps_missing, Attempt.refusal.is_not(None)))
    misplaced_refusal = and_(Attempt.refusal.is_not(None), Attempt.correct.is_(False))
    query = (
        attempt_rows(Attempt.status, Attempt.correct, Attempt.steps_ok, Attempt.refusal)
        .where(attempts_in_scope(scope), or_(unearned, misplaced_refusal))
        .order_by(Attempt.id)
    )
    total, rows = capped(session, query, scope.limit)
    return violation("accepted_correct", f"{plural(total, 'attempt')} accepted but not correct, refused, or not "
                     f"steps-ok in a run with `accept: {ANSWER_AND_STEPS}`; or refused though wrong", total, rows)


def hinted_training_prompts(session: Session, scope: CheckScope) -> list[Violation]:
    """No hint in a stored training prompt.

    Task-independent rule (docs/cluster.md): a direct or evaluation attempt trains on
    the prompt it saw; a rationalized attempt's training prompt differs from its
    hinted prompt and is the very prompt its problem's direct attempts were asked,
    without a hint, in the same round. A rationalized attempt whose problem has no
    direct attempt in its round is judged on its own texts (`is_hint_removal`).
    """
    same, unmatched, unpaired = _prompt_queries(scope)
    counts_rows = [capped(session, same, scope.limit), capped(session, unmatched, scope.limit),
                   first(_bad_removals(session, unpaired), scope.limit)]
    total = sum(count for count, _ in counts_rows)
    rows = [row for _, part in counts_rows for row in part][: scope.limit]
    return violation("training_prompts", f"{plural(total, 'attempt')} whose training prompt may hold a hint "
                     "(issue says which rule it breaks)", total, rows)


def _prompt_queries(scope: CheckScope) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """(prompt and training prompt disagree with the kind, rationalized training prompt that is no
    direct prompt of its problem and round, rationalized attempts with no direct sibling)."""
    hinted = Attempt.kind == RATIONALIZED
    why = case((hinted, literal("the hint was not removed: training prompt = hinted prompt")),
               else_=literal("not rationalized, yet the training prompt differs from the prompt it saw"))
    same = (
        attempt_rows(why.label("issue"))
        .where(attempts_in_scope(scope),
               or_(and_(hinted, Attempt.train_prompt == Attempt.prompt),
                   and_(~hinted, Attempt.train_prompt != Attempt.prompt)))
        .order_by(Attempt.id)
    )
    direct = aliased(Attempt)
    sibling = and_(direct.round_id == Attempt.round_id, direct.problem_id == Attempt.problem_id,
                   direct.kind == "direct")
    removed = and_(attempts_in_scope(scope), hinted, Attempt.train_prompt != Attempt.prompt)
    unmatched = (
        attempt_rows(literal("the training prompt is not the prompt of this problem's direct attempts "
                             "in this round").label("issue"))
        .where(removed, exists().where(sibling), ~exists().where(sibling, direct.prompt == Attempt.train_prompt))
        .order_by(Attempt.id)
    )
    unpaired = (
        attempt_rows(Attempt.prompt.label("prompt_text"), Attempt.train_prompt.label("train_prompt_text"))
        .where(removed, ~exists().where(sibling))
        .order_by(Attempt.id)
    )
    return same, unmatched, unpaired


def _bad_removals(session: Session, query: Select[Any]) -> Iterator[dict[str, Any]]:
    """The rows of `query` whose training prompt is no hint removal of their prompt (texts dropped)."""
    for row in session.execute(query.execution_options(yield_per=500)).mappings():
        if not is_hint_removal(row["prompt_text"], row["train_prompt_text"]):
            kept = {k: v for k, v in plain(row).items() if not k.endswith("_text")}
            yield {**kept, "issue": "the training prompt is not the prompt with text removed, "
                                  "or still holds the removed text"}


def is_hint_removal(prompt: str, train_prompt: str) -> bool:
    """Whether `train_prompt` is `prompt` with its hint taken out, by a rule that knows no task.

    Text was removed and nothing added or reordered (`train_prompt` is a shorter
    subsequence of `prompt`); where the removal is one contiguous piece (the hint
    of the asked question, e.g. arithmetic's " (hint: 42)"), that piece occurs
    nowhere in `train_prompt` (a hint taken out of the wrong place leaves it in).
    """
    if len(train_prompt) >= len(prompt):
        return False
    head = _common_prefix(prompt, train_prompt)
    # The suffix may not reach into the prefix: "aXa" -> "a" removes one piece either way.
    tail = min(_common_prefix(prompt[::-1], train_prompt[::-1]), len(train_prompt) - head)
    if head + tail == len(train_prompt):
        return prompt[head : len(prompt) - tail] not in train_prompt
    return _is_subsequence(train_prompt[head : len(train_prompt) - tail], prompt[head : len(prompt) - tail])


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix; a binary search over slice comparisons (C speed for long prompts)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _is_subsequence(small: str, big: str) -> bool:
    position = 0
    for char in small:
        position = big.find(char, position) + 1
        if position == 0:
            return False
    return True
