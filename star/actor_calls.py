"""Calling a Ray actor that may die: wait for Ray's restart, then call again.

star's actors are restartable (`max_restarts`) but Ray never re-runs their calls
(`max_task_retries=0`): only the caller knows whether a call may run twice. Every
caller that may (re-check a batch, train a round, put an engine to sleep) uses
`call_with_restarts`; the generation pipeline (star/loop/phase.py) re-queues
batches itself and only uses `wait_ready`.

A call that *raised* (a `RayTaskError`: the actor is alive, its code failed) is
never repeated here: it would fail the same way again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from star.errors import StarError, first_line

REPROBE_SECONDS = 1.0  # a dead actor answers a probe at once; do not spin on it


class ActorLost(StarError):
    """The actor died on every try (or did not come back in time); `reasons` says why, oldest first."""

    def __init__(self, method: str, reasons: list[str]) -> None:
        self.method = method
        self.reasons = reasons
        super().__init__(f"{method}: the actor died {len(reasons)} time(s) (last: {reasons[-1]})")

    @property
    def last(self) -> str:
        return self.reasons[-1]


def restart_failed(exc: BaseException) -> str | None:
    """The actor's own error when its constructor raised (e.g. a vLLM engine that cannot start), else None.

    Ray never restarts an actor whose constructor raised, whatever `max_restarts`
    says: waiting for it to come back would wait out the whole restart timeout.
    """
    if not getattr(exc, "actor_init_failed", False):
        return None
    # the message ends with the constructor's traceback; its last line is the error itself
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    raised = [line for line in lines if _ERROR_LINE.match(line)]
    return (raised[-1] if raised else lines[-1] if lines else type(exc).__name__)[:300]


_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*:")


def wait_ready(actor, timeout: float) -> None:
    """Block until a (possibly restarting) actor answers `ready()`; raises GetTimeoutError after `timeout` s.

    A call that meets a dead actor fails at once even when Ray is about to
    restart it, so failures are retried (once a second) until the deadline. An
    actor whose restart raised in its constructor is not coming back: its error
    is raised at once as ActorLost.
    """
    import ray
    from ray.exceptions import GetTimeoutError, RayError

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise GetTimeoutError(f"the actor did not answer within {timeout:g} s")
        try:
            ray.get(actor.ready.remote(), timeout=left)
            return
        except GetTimeoutError:
            raise
        except RayError as exc:
            if (error := restart_failed(exc)) is not None:
                raise ActorLost("ready", [f"its restart failed: {error}"]) from exc
            time.sleep(min(REPROBE_SECONDS, max(0.0, deadline - time.monotonic())))


def call_with_restarts(actor, method: str, *args: Any, tries: int, restart_timeout: float,
                       first: Any = None, on_death: Callable[[str], None] = lambda reason: None) -> Any:
    """`actor.<method>(*args)`, called again on the restarted actor when the actor died, `tries` calls in all.

    `first`: the ObjectRef of a call already made (it counts as the first try), so a caller can
    start the same call on many actors at once. `on_death(reason)` hears of each death that is
    followed by another try. Raises the call's own RayTaskError at once, and ActorLost when the
    actor died on every try or did not come back within `restart_timeout` seconds.
    """
    import ray
    from ray.exceptions import RayError, RayTaskError

    reasons: list[str] = []
    ref = first
    for attempt in range(1, tries + 1):
        try:
            return ray.get(ref if ref is not None else getattr(actor, method).remote(*args))
        except RayTaskError:
            raise
        except RayError as exc:  # the actor process or its node died
            reasons.append(first_line(exc))
        ref = None
        if attempt == tries:
            break
        on_death(reasons[-1])
        try:
            wait_ready(actor, restart_timeout)  # a call to a restarting actor would fail at once
        except ActorLost as lost:
            reasons.extend(lost.reasons)
            break
        except RayError as exc:
            reasons.append(f"not back within {restart_timeout:g} s ({first_line(exc)})")
            break
    raise ActorLost(method, reasons)
