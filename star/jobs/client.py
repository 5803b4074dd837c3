"""A job client connected to the cluster, with Ray's failures turned into one-line star errors.

Connecting probes the public /api/authentication_mode endpoint first, so an
unreachable address, a cluster without the job server and a missing token are
told apart before Ray's own client raises a multi-line error or a stack trace.
"""

from __future__ import annotations

import time
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
# A head that has just started answers job requests before its job agent has
# registered ("No available agent to submit job, please try again later"): a
# submit right after `ray start --head`, or after the head was lost and started
# again, would fail on a cluster that is a few seconds from ready.
AGENT_WAIT_S = 60.0
AGENT_POLL_S = 1.0
NO_AGENT = "No available agent"
_T = TypeVar("_T")


class StarJobClient:
    """Ray's JobSubmissionClient plus what star needs to word its errors."""

    def __init__(self, ray_client: Any, address: str, token: Token | None, *,
                 agent_wait_s: float = AGENT_WAIT_S, agent_poll_s: float = AGENT_POLL_S) -> None:
        self.ray = ray_client
        self.address = address
        self.token = token
        self.agent_wait_s = agent_wait_s
        self.agent_poll_s = agent_poll_s

    def call(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run one client call; Ray's errors become JobError naming `what` and the fix.

        A head whose job agent is not up yet is asked again for up to agent_wait_s.
        """
        deadline = time.monotonic() + self.agent_wait_s
        while True:
            try:
                return self._call_once(what, fn, *args, **kwargs)
            except JobError as exc:
                if NO_AGENT not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise JobError(f"{exc}; the head's job agent did not come up within {self.agent_wait_s:.0f} s: "
                                   "check the head's dashboard_agent log (ray start --head writes it under "
                                   "/tmp/ray/session_latest/logs)") from None
            time.sleep(self.agent_poll_s)

    def _call_once(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
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
