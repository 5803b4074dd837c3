"""Who may read the store through `star serve`: safe by default.

- Bound to a loopback address, the server needs no token; one bound anywhere
  else must have one (`--token` or `$STAR_SERVE_TOKEN`), or it does not start.
- With a token, every request carries it: `Authorization: Bearer TOKEN`, the
  `star_token` cookie, or once `?token=TOKEN`, which sets the cookie and
  redirects to the same page without it (so it leaves no trace in history).
  Tokens are compared in constant time.
- Without a token, a request that does not come from a loopback address is
  refused (a reverse proxy on another host would otherwise open the store).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from star.errors import StarError

TOKEN_ENV = "STAR_SERVE_TOKEN"
COOKIE = "star_token"
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`; any other name or address is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """StarError unless this bind is safe: loopback, or a token of at least MIN_TOKEN_LENGTH characters."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise StarError(f"--token must be at least {MIN_TOKEN_LENGTH} characters; "
                        "make one with `python -c 'import secrets; print(secrets.token_urlsafe(24))'`")
    if token is None and not is_loopback(host):
        raise StarError(f"--host {host} would open the store to the network without a token; pass --token "
                        f"(or set ${TOKEN_ENV}), or bind to 127.0.0.1")


def same_token(offered: str | None, token: str) -> bool:
    """Constant-time comparison (hmac.compare_digest), so timing tells nothing about the token."""
    return offered is not None and hmac.compare_digest(offered.encode(), token.encode())


class TokenGate:
    """ASGI middleware that checks every HTTP request before the application sees it."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = self.refusal(Request(scope))
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def refusal(self, request: Request) -> Response | None:
        """The response that refuses `request`, or None to let it through."""
        if self.token is None:
            client = request.client.host if request.client else ""
            if is_loopback(client):
                return None
            return PlainTextResponse("star serve without a token answers only requests from this host; "
                                     f"restart it with --token (or ${TOKEN_ENV})\n", status_code=403)
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if same_token(bearer, self.token) or same_token(request.cookies.get(COOKIE), self.token):
            return None
        if same_token(request.query_params.get("token"), self.token):
            return _remember(request, self.token)
        return PlainTextResponse("a token is required: send `Authorization: Bearer TOKEN`, or open "
                                 "this page once with ?token=TOKEN\n", status_code=401,
                                 headers={"WWW-Authenticate": "Bearer"})


def _remember(request: Request, token: str) -> Response:
    """Set the cookie and send the browser to the same page without the token in its URL."""
    query: list[tuple[str, Any]] = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = request.url.path + (f"?{urlencode(query)}" if query else "")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response
