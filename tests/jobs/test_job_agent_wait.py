"""A head whose job agent is still starting: star asks again instead of failing the submit.

Right after `ray start --head` (or a head started again after it was lost) the
job server answers 500 "No available agent to submit job, please try again
later" for a few seconds. The client retries that one answer until its
deadline, and only that one: any other error is reported at once.
"""

from __future__ import annotations

import pytest

from star.jobs.client import StarJobClient
from star.jobs.errors import JobError

NO_AGENT = "Request failed with status code 500: No available agent to submit job, please try again later.."


class _StartingHead:
    """A job server whose agent registers after `starting_calls` answers."""

    def __init__(self, starting_calls: int) -> None:
        self.starting_calls = starting_calls
        self.calls = 0

    def submit_job(self, **kwargs: object) -> str:
        self.calls += 1
        if self.calls <= self.starting_calls:
            raise RuntimeError(NO_AGENT)
        return str(kwargs["submission_id"])


def _client(head: _StartingHead, wait_s: float) -> StarJobClient:
    return StarJobClient(head, "http://head:8265", None, agent_wait_s=wait_s, agent_poll_s=0.01)


def test_a_submit_while_the_agent_starts_is_asked_again_until_it_is_accepted() -> None:
    head = _StartingHead(starting_calls=3)
    accepted = _client(head, wait_s=30).call("submitting", head.submit_job, submission_id="star-r-1")
    assert accepted == "star-r-1"
    assert head.calls == 4


def test_an_agent_that_never_comes_up_fails_with_the_reason_and_where_to_look() -> None:
    head = _StartingHead(starting_calls=10**9)
    with pytest.raises(JobError) as raised:
        _client(head, wait_s=0.05).call("submitting", head.submit_job, submission_id="star-r-1")
    message = str(raised.value)
    assert "No available agent" in message and "did not come up" in message and "dashboard_agent" in message
    assert head.calls >= 2  # it did ask again before giving up


def test_other_job_server_errors_are_not_retried() -> None:
    class _Refusing:
        calls = 0

        def submit_job(self, **kwargs: object) -> str:
            self.calls += 1
            raise RuntimeError("Request failed with status code 400: bad runtime_env")

    head = _Refusing()
    with pytest.raises(JobError, match="bad runtime_env"):
        StarJobClient(head, "http://head:8265", None, agent_wait_s=30, agent_poll_s=0.01).call(
            "submitting", head.submit_job, submission_id="x")
    assert head.calls == 1
