"""Ray start-up for a run: a private local Ray, or a cluster that answers.

Never ray.init(address=None): that joins whatever cluster this machine started last,
and retries a dead one for minutes (star/run/preflight.py).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from star.config import StarConfig

#: the Ray logger that announces token auth on a new local cluster
RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
#: Ray waits a hard-coded 30 s for a new local node to register (ray/_private/node.py); a 2-core
#: machine busy with other work can take longer, so a local start is tried this many times
LOCAL_START_TRIES = 3
_NODE_START_TIMEOUT = "timed out during startup"


def init_ray(config: StarConfig, log: Callable[[str], None] = lambda message: None) -> None:
    """Start a private local Ray (no ray_address) or join a cluster that answers.

    Never ray.init(address=None): that joins whatever cluster this machine
    started last, and retries a dead one for minutes (star/run/preflight.py).
    """
    import ray

    from star.run.preflight import probe_ray_address, resolve_ray_address

    if ray.is_initialized():
        return
    address, source = resolve_ray_address(config.ray_address)
    probe_ray_address(address, source)
    if address == "local":
        # A private instance gets token auth (Ray 2.60's default for a new local cluster), and Ray
        # announces that default on every start; setting RAY_AUTH_MODE here instead is too late
        # (Ray reads it at import), so the one notice is filtered.
        quiet_local_auth_notice()
    # Workers inherit this; the engine reads it before vLLM starts.
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(config.generators.cpu_kv_cache_gb))))
    ours = signal.getsignal(signal.SIGTERM)
    start_ray(address, log=log)
    if callable(ours) and threading.current_thread() is threading.main_thread():
        # ray.init replaces the SIGTERM handler with sys.exit(15); keep the driver's own
        # (star/run/lifecycle.py), which also ignores a second SIGTERM while the run is cleaned up.
        signal.signal(signal.SIGTERM, ours)


def start_ray(address: str, log: Callable[[str], None], **options: Any) -> None:
    """ray.init (with star's options, or `options` over them); a local start whose node did not
    register within Ray's 30 s is started again."""
    import ray

    settings = {"include_dashboard": False, "logging_level": "WARNING", "log_to_driver": True,
                "configure_logging": True} | options
    for attempt in range(1, LOCAL_START_TRIES + 1):
        try:
            ray.init(address=address, **settings)
            return
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception for this timeout
            if address != "local" or _NODE_START_TIMEOUT not in str(exc) or attempt == LOCAL_START_TRIES:
                raise
            ray.shutdown()  # stops what the timed-out start left running
            log(f"Ray's local node did not register within Ray's 30 s (a busy machine?); starting it again "
                f"({attempt + 1} of {LOCAL_START_TRIES})")


class _AuthNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Token authentication is enabled for this Ray cluster" not in record.getMessage()


def quiet_local_auth_notice() -> None:
    """Keep Ray's notice that a new local cluster uses token auth out of the console (once per process)."""
    logger = logging.getLogger(RAY_AUTH_LOGGER)
    if not any(isinstance(f, _AuthNotice) for f in logger.filters):
        logger.addFilter(_AuthNotice())
