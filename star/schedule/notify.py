"""`--notify URL`: POST a JSON summary of each finished firing. Best effort by design:
a webhook that is down is logged and never fails the firing."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

log = logging.getLogger("star.scheduler")
TIMEOUT_S = 10.0


def post_summary(url: str, summary: dict[str, Any], *, timeout: float = TIMEOUT_S) -> bool:
    """True when the webhook answered 2xx; any failure is logged and returns False."""
    body = json.dumps(summary, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "star-scheduler"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the user's URL)
            ok = 200 <= response.status < 300
    except Exception as exc:  # noqa: BLE001 - a notification must never fail the firing
        log.warning("notify %s failed: %s", url, exc)
        return False
    if not ok:
        log.warning("notify %s answered %s", url, response.status)
    return ok
