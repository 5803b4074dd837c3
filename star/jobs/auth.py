"""The job server's address and the cluster's auth token, found the way Ray finds them.

Ray (>= 2.52) clusters started with RAY_AUTH_MODE=token refuse every HTTP and
gRPC request without `Authorization: Bearer <token>`. Ray's own clients look
for the token in this order (ray/_raylet.so's AuthenticationTokenLoader):
RAY_AUTH_TOKEN, then the file named by RAY_AUTH_TOKEN_PATH (an unreadable or
empty file there is an error, not a fallback), then ~/.ray/auth_token. Ray's
job client only sends it when RAY_AUTH_MODE=token is set in the *client's*
environment; star sets that itself and also passes the header explicitly, so a
user with a token does nothing and nothing depends on Ray's cached config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from star.jobs.errors import ClusterAuthError, JobError

ADDRESS_ENV = "RAY_ADDRESS"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
AUTH_MODE_ENV = "RAY_AUTH_MODE"
_WHERE = (f"set {TOKEN_ENV}, or {TOKEN_PATH_ENV} to a file holding it, or put it in ~/.ray/auth_token "
          "(on the head, `ray get-auth-token` prints it)")


@dataclass(frozen=True)
class Token:
    value: str
    source: str  # where it came from, for messages (never the token itself)


def find_token(env: dict[str, str] | None = None, home: Path | None = None) -> Token | None:
    """The auth token from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token; None if none."""
    env = os.environ if env is None else env
    if env.get(TOKEN_ENV, "").strip():
        return Token(env[TOKEN_ENV].strip(), f"${TOKEN_ENV}")
    if env.get(TOKEN_PATH_ENV):
        path = Path(env[TOKEN_PATH_ENV]).expanduser()
        value = path.read_text().strip() if path.is_file() else ""
        if not value:
            raise ClusterAuthError(f"${TOKEN_PATH_ENV} names {path}, which is missing or empty; "
                                   "point it at the file holding the cluster's token, or unset it")
        return Token(value, str(path))
    default = (home or Path.home()) / ".ray" / "auth_token"
    if default.is_file() and default.read_text().strip():
        return Token(default.read_text().strip(), str(default))
    return None


def auth_headers(token: Token | None) -> dict[str, str]:
    """Headers for the job client; also turns on token mode for Ray code in this process."""
    if token is None:
        return {}
    os.environ[AUTH_MODE_ENV] = "token"
    return {"Authorization": f"Bearer {token.value}"}


def missing_token_message(address: str) -> str:
    return f"the Ray cluster at {address} requires an auth token and none was found; {_WHERE}"


def rejected_token_message(address: str, token: Token) -> str:
    return (f"the Ray cluster at {address} rejected the auth token from {token.source}; "
            f"use the token the cluster was started with ({_WHERE})")


def job_server_address(address: str | None) -> str:
    """--address or $RAY_ADDRESS as the dashboard's http(s) URL (http:// added to HOST:PORT)."""
    given = address or os.environ.get(ADDRESS_ENV)
    if not given:
        raise JobError(f"no cluster address: pass --address http://HEAD:8265 or set ${ADDRESS_ENV}")
    given = given.strip().rstrip("/")
    if given == "auto" or given.startswith(("ray://", "local")):
        raise JobError(f"{given!r} is not a job server address; pass the head's dashboard URL, "
                       "e.g. --address http://HEAD:8265")
    return given if "://" in given else f"http://{given}"
