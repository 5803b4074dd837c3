"""What the routes share: the session dependency, JSON as the CLI prints it, and the templates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

TEMPLATES = Path(__file__).resolve().parent / "templates"


def session(request: Request) -> Iterator[Session]:
    """A FastAPI dependency: one read-only session per request."""
    with request.app.state.sessions() as s:
        yield s


#: a route's parameter for its session
ReadSession = Annotated[Session, Depends(session)]


def json_response(obj: Any) -> Response:
    """JSON exactly as the CLI's --json prints it (same encoder and options)."""
    return Response(json.dumps(obj, indent=2, ensure_ascii=False, default=str), media_type="application/json")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    page = request.app.state.templates.get_template(template)
    return HTMLResponse(page.render(database=request.app.state.label, request=request, **context),
                        status_code=status_code)


def templates() -> Environment:
    """The page templates. Autoescaping is on for all of them: every value from the store is
    HTML-escaped, and nothing here marks one safe."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = percent
    env.filters["dash"] = lambda value: "–" if value is None else value
    env.filters["excerpt"] = excerpt
    env.globals["link"] = link
    return env


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def excerpt(text: Any, width: int = 100) -> str:
    """One line of at most `width` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def link(path: str, **params: Any) -> str:
    """`path?a=1&b=x`: every value percent-encoded (any run name or problem id survives), None left out."""
    query = urlencode([(k.rstrip("_"), v) for k, v in params.items() if v is not None and v != ""])
    return f"{path}?{query}" if query else path
