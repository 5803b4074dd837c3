"""The FastAPI application of `star serve`: routes, guards, sessions, templates and errors.

Every request gets its own session on a read-only engine (db/readonly.py), so
nothing it does can change the store; every response carries headers that
forbid scripts, frames and third-party requests (the pages have no script:
escaping is the first defence against model output, the CSP the second).
"""

from __future__ import annotations

import json
from collections import OrderedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.engine import session_factory
from db.errors import StoreError
from star.serve import api, pages
from star.serve.auth import TokenGate
from star.serve.web import render, templates

SECURITY_HEADERS = [
    (b"content-security-policy", (b"default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
                                  b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


def create_app(engine: Engine, *, token: str | None, label: str) -> FastAPI:
    """The web view of the store behind `engine` (open it with db.readonly.open_readonly).

    `token`: None serves only loopback clients; otherwise every request must carry it.
    `label`: how the database is named on the pages (a URL without its password).
    """
    app = FastAPI(title="star", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sessions = session_factory(engine)
    app.state.label = label
    app.state.templates = templates()
    app.state.plot_cache = OrderedDict()
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RequestValidationError, _bad_parameter)
    # Middleware runs outermost-last: the token is checked before anything else happens.
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(TokenGate, token=token)
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _store_error(request: Request, exc: Exception) -> Response:
    if _wants_json(request):
        return Response(json.dumps({"error": str(exc)}), status_code=400, media_type="application/json")
    return render(request, "error.html", status_code=400, message=str(exc))


async def _bad_parameter(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in errors)
    message = f"bad parameter: {message or exc}"
    if _wants_json(request):
        return Response(json.dumps({"error": message}), status_code=400, media_type="application/json")
    return render(request, "error.html", status_code=400, message=message)


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
