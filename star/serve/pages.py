"""The HTML pages of `star serve` (Jinja2 templates in templates/, no JavaScript).

Runs are named in query parameters (`/run?run=NAME`), not in the path, so any
stored name (a slash, markup) reaches its page intact. Form fields arrive as
text ("" means "any") and are read here, with an error page naming the field.
Every list is a page with a capped size.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from db.compare import compare_runs
from db.errors import StoreError
from db.flips import FLIPS, run_flips
from db.models import ATTEMPT_KINDS
from db.queries import RationaleFilter, attempt_dict, get_attempt, list_runs
from db.search import search_rationales
from db.search_index import pending_count
from db.store import get_run
from db.story import problem_story
from db.summaries import round_summaries
from star.report.table import strategy_columns
from star.serve.plots import PLOTS, cached, draw
from star.serve.web import ReadSession, render

router = APIRouter()
PAGE = 20
FLIP_LABELS = {"unsolved_to_solved": "unsolved → solved", "solved_to_regressed": "solved → regressed",
               "hint_only_to_unaided": "hint-only → unaided", "stable_solved": "stable, solved",
               "stable_unsolved": "stable, unsolved"}


def _int(name: str, value: str | None) -> int | None:
    """A form field holding a whole number, or nothing."""
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise StoreError(f"{name} must be a whole number, got {value!r}") from None


def _flag(name: str, value: str | None) -> bool | None:
    """A yes / no / any form field."""
    if value is None or value == "":
        return None
    if value in ("true", "false"):
        return value == "true"
    raise StoreError(f"{name} must be true, false or empty, got {value!r}")


@router.get("/", response_class=HTMLResponse)
def runs_page(request: Request, s: ReadSession, offset: int = Query(0, ge=0)) -> Response:
    runs = list_runs(s, limit=PAGE * 5, offset=offset)
    return render(request, "runs.html", runs=runs, offset=offset, page=PAGE * 5)


@router.get("/run", response_class=HTMLResponse)
def run_page(request: Request, s: ReadSession, run: str) -> Response:
    found = get_run(s, run)
    summaries = round_summaries(s, found, stored=False)
    others = [r["name"] for r in list_runs(s, limit=PAGE * 5) if r["name"] != found.name]
    return render(request, "run.html", run=found, summaries=summaries, strategies=strategy_columns(summaries),
                  plots=PLOTS if summaries else (), others=others, pending=pending_count(s, cap=100_000))


@router.get("/plot")
def plot(request: Request, s: ReadSession, run: str, name: str) -> Response:
    found = get_run(s, run)
    summaries = round_summaries(s, found, stored=False)
    # Redrawn whenever the run or one of its rounds changed.
    key = (found.name, name, found.updated_at, max((x["updated_at"] or "" for x in summaries), default=""))
    png = cached(request.app.state.plot_cache, key, lambda: draw(name, found.name, summaries))
    return Response(png, media_type="image/png")


@router.get("/problem", response_class=HTMLResponse)
def problem_page(request: Request, s: ReadSession, run: str, id: str, split: str = "", dataset: str = "",
                 first: str | None = Query(None, alias="from"), rounds: int = Query(10, ge=1, le=50)) -> Response:
    story = problem_story(s, run, id, split=split or None, dataset=dataset or None, first=_int("from", first),
                          rounds_per_page=rounds)
    return render(request, "problem.html", story=story, split=split, dataset=dataset, rounds=rounds)


@router.get("/problem/rounds", response_class=HTMLResponse)
def side_by_side(request: Request, s: ReadSession, run: str, id: str, a: str, b: str, split: str = "",
                 dataset: str = "") -> Response:
    """Two rounds' attempts on one problem, next to each other."""
    pages = [problem_story(s, run, id, split=split or None, dataset=dataset or None, first=_int(name, value),
                           rounds_per_page=1) for name, value in (("a", a), ("b", b))]
    columns = [page["rounds"][0] if page["rounds"] else None for page in pages]
    return render(request, "side_by_side.html", story=pages[0], columns=columns, split=split, dataset=dataset)


@router.get("/flips", response_class=HTMLResponse)
def flips_page(request: Request, s: ReadSession, run: str,
               split: str = Query("train", pattern="^(train|eval)$"),
               first: str | None = Query(None, alias="from"), last: str | None = Query(None, alias="to"),
               flip: str = "unsolved_to_solved", offset: int = Query(0, ge=0)) -> Response:
    if flip not in FLIPS:
        raise StoreError(f"unknown flip {flip!r}; use one of {', '.join(FLIPS)}")
    found = run_flips(s, run, split=split, first=_int("from", first), last=_int("to", last), limit=PAGE * 5,
                      offset=offset)
    return render(request, "flips.html", flips=found, flip=flip, labels=FLIP_LABELS, order=FLIPS,
                  first=first or "", last=last or "", page=PAGE * 5)


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, s: ReadSession, run: str, q: str = "", round: str | None = None,
                kind: str = "",
                correct: str | None = None, accepted: str | None = None, after: str | None = None) -> Response:
    get_run(s, run)
    form = {"run": run, "q": q, "round": round or "", "kind": kind, "correct": correct or "",
            "accepted": accepted or ""}
    found = None
    if q.strip():
        flt = RationaleFilter(run=run, round_index=_int("round", round), kind=kind or None,
                              correct=_flag("correct", correct), accepted=_flag("accepted", accepted),
                              search=q, after_id=_int("after", after), limit=PAGE)
        found = [attempt_dict(a) for a in search_rationales(s, flt)]
    return render(request, "search.html", form=form, found=found, kinds=ATTEMPT_KINDS, page=PAGE,
                  pending=pending_count(s, cap=100_000))


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, s: ReadSession, a: str, b: str,
                 split: str = Query("eval", pattern="^(train|eval)$"),
                 offset: int = Query(0, ge=0)) -> Response:
    found = compare_runs(s, a, b, split=split, limit=PAGE * 5, offset=offset)
    return render(request, "compare.html", cmp=found, page=PAGE * 5)


@router.get("/attempt", response_class=HTMLResponse)
def attempt_page(request: Request, s: ReadSession, id: int) -> Response:
    return render(request, "attempt.html", attempt=attempt_dict(get_attempt(s, id)))
