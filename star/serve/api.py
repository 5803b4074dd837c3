"""The JSON API under /api/: each route answers what a CLI command prints with --json.

| route | CLI |
|---|---|
| /api/runs | `star runs --json` |
| /api/rounds?run=R | `star rounds R --json` |
| /api/rationales?run=R&... | `star rationales R ... --json` (search without indexing: the store is read-only) |
| /api/attempts/ID | `star show ID --json` |
| /api/problem?run=R&id=P | `star problem R P --json` |
| /api/flips?run=R | `star flips R --json` |
| /api/compare?a=A&b=B | `star compare A B --json` |

Every list is paginated with a capped `limit`, so no request reads an unbounded number of rows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from db.compare import compare_runs
from db.flips import run_flips
from db.queries import RationaleFilter, attempt_dict, get_attempt, list_rationales, list_runs
from db.search import search_rationales
from db.search_index import pending_count
from db.store import get_run
from db.story import problem_story
from db.summaries import round_summaries
from star.serve.web import ReadSession, json_response

router = APIRouter(prefix="/api")
#: the most rows one page of a list may hold
MAX_PAGE = 200
SPLIT = "^(train|eval)$"


@router.get("/runs")
def runs(s: ReadSession, limit: int = Query(100, ge=1, le=MAX_PAGE),
         offset: int = Query(0, ge=0)) -> Response:
    return json_response(list_runs(s, limit=limit, offset=offset))


@router.get("/rounds")
def rounds(s: ReadSession, run: str) -> Response:
    return json_response(round_summaries(s, get_run(s, run)))


def rationale_filter(run: str, round: int | None = None, problem: str | None = None, kind: str | None = None,
                     correct: bool | None = None, accepted: bool | None = None, contains: str | None = None,
                     search: str | None = None, after: int | None = None, refusal: str | None = None,
                     limit: int = Query(20, ge=1, le=MAX_PAGE)) -> RationaleFilter:
    """The query parameters of `star rationales`, as a filter (a FastAPI dependency)."""
    return RationaleFilter(run=run, round_index=round, problem=problem, kind=kind or None, correct=correct,
                           accepted=accepted, contains=contains or None, search=search, after_id=after, limit=limit,
                           refusal=refusal or None)


@router.get("/rationales")
def rationales(s: ReadSession, flt: Annotated[RationaleFilter, Depends(rationale_filter)]) -> Response:
    find = search_rationales if flt.search is not None else list_rationales
    return json_response([attempt_dict(a) for a in find(s, flt)])


@router.get("/attempts/{attempt_id}")
def attempt(s: ReadSession, attempt_id: int) -> Response:
    return json_response(attempt_dict(get_attempt(s, attempt_id)))


@router.get("/problem")
def problem(s: ReadSession, run: str, id: str, split: str | None = Query(None, pattern=SPLIT),
            dataset: str | None = None,
            first: int | None = Query(None, alias="from"), rounds: int = Query(10, ge=1, le=50)) -> Response:
    return json_response(problem_story(s, run, id, split=split, dataset=dataset, first=first,
                                       rounds_per_page=rounds))


@router.get("/flips")
def flips(s: ReadSession, run: str, split: str = Query("train", pattern=SPLIT),
          first: int | None = Query(None, alias="from"),
          last: int | None = Query(None, alias="to"), limit: int = Query(20, ge=1, le=MAX_PAGE),
          offset: int = Query(0, ge=0)) -> Response:
    return json_response(run_flips(s, run, split=split, first=first, last=last, limit=limit, offset=offset))


@router.get("/compare")
def compare(s: ReadSession, a: str, b: str, split: str = Query("eval", pattern=SPLIT),
            round_a: int | None = None,
            round_b: int | None = None, limit: int = Query(20, ge=1, le=MAX_PAGE),
            offset: int = Query(0, ge=0)) -> Response:
    return json_response(compare_runs(s, a, b, split=split, round_a=round_a, round_b=round_b, limit=limit,
                                      offset=offset))


@router.get("/search-index")
def search_index(s: ReadSession) -> Response:
    """How many stored attempts search cannot find yet (`star db index` indexes them)."""
    return json_response({"pending": pending_count(s, cap=100_000)})
