"""A job client connected to the cluster, with Ray's failures turned into one-line star errors.

Connecting probes the public /api/authentication_mode endpoint first, so an
unreachable address, a cluster without the job server and a missing token are
told apart before Ray's own client raises a multi-line error or a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from star.errors import first_line
from star.jobs.auth import (
    Token,
    auth_headers,
    find_token,
    job_server_address,
    missing_token_message,
    rejected_token_message,
)
from star.jobs.errors import ClusterAuthError, ClusterUnreachableError, JobError

PROBE_TIMEOUT_S = 10
_T = TypeVar("_T")


class StarJobClient:
    """Ray's JobSubmissionClient plus what star needs to word its errors."""

    def __init__(self, ray_client: Any, address: str, token: Token | None) -> None:
        self.ray = ray_client
        self.address = address
        self.token = token

    def call(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run one client call; Ray's errors become JobError naming `what` and the fix."""
        import requests
        from ray.exceptions import AuthenticationError

        try:
            return fn(*args, **kwargs)
        except AuthenticationError:
            raise self._auth_error() from None
        except (requests.ConnectionError, requests.Timeout, ConnectionError) as exc:
            raise ClusterUnreachableError(_unreachable(self.address, exc)) from None
        except RuntimeError as exc:
            raise JobError(f"{what} failed at {self.address}: {first_line(exc)}") from None

    def _auth_error(self) -> ClusterAuthError:
        if self.token is None:
            return ClusterAuthError(missing_token_message(self.address))
        return ClusterAuthError(rejected_token_message(self.address, self.token))


def connect(address: str | None) -> StarJobClient:
    """A connected client for --address (or $RAY_ADDRESS), or a one-line JobError saying why not."""
    url = job_server_address(address)
    mode = _probe_auth_mode(url)
    token = find_token()
    if mode == "token" and token is None:
        raise ClusterAuthError(missing_token_message(url))
    import requests
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    client = StarJobClient(None, url, token)
    try:
        client.ray = JobSubmissionClient(url, headers=auth_headers(token))
    except AuthenticationError:
        raise client._auth_error() from None
    except (requests.ConnectionError, requests.Timeout, ConnectionError) as exc:
        raise ClusterUnreachableError(_unreachable(url, exc)) from None
    except RuntimeError as exc:  # e.g. "Version check returned 404": some other web server
        raise JobError(f"{url} answers but offers no Ray job server ({first_line(exc)}); pass the head's "
                       "dashboard address (port 8265) of a cluster running ray[default] >= 2.0") from None
    return client


def _probe_auth_mode(url: str) -> str | None:
    """'token' or 'disabled' from the dashboard's public endpoint; None if it has no such endpoint."""
    import requests

    try:
        response = requests.get(f"{url}/api/authentication_mode", timeout=PROBE_TIMEOUT_S)
    except requests.RequestException as exc:
        raise ClusterUnreachableError(_unreachable(url, exc)) from None
    if response.status_code != 200:
        return None
    try:
        return str(response.json().get("authentication_mode"))
    except ValueError:
        raise JobError(f"{url} is not a Ray dashboard (its answer is not JSON); pass the head's "
                       "dashboard address, e.g. --address http://HEAD:8265") from None


def _unreachable(url: str, exc: BaseException) -> str:
    return (f"cannot reach a Ray job server at {url} ({type(exc).__name__}); check --address or "
            "$RAY_ADDRESS (the head's dashboard, default port 8265) and that the head runs the "
            "dashboard (`ray start --head --include-dashboard=true --dashboard-host=0.0.0.0`)")
