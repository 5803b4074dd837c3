"""The trainer's reporting callbacks may fail; the round's training must not.

transformers calls its MLflow / TensorBoard / W&B callback inside `trainer.train()`,
so an unreachable server or a refused store would fail the round. Each reporting
callback is wrapped: its first error is printed once (it reaches the Ray worker's
log) and the callback is switched off for the rest of that training.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class GuardedCallback:
    """Forwards every `on_<event>` call to `inner` until one raises, then does nothing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.broken = False

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "broken"):  # not set yet (a copy or unpickle): no recursion through self.inner
            raise AttributeError(name)
        attribute = getattr(self.inner, name)
        if not name.startswith("on_") or not callable(attribute):
            return attribute
        return self._guarded(name, attribute)

    def _guarded(self, event: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self.broken:
                return None
            try:
                return method(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the curves are a copy; the checkpoint is the result
                self.broken = True
                print(f"star: {type(self.inner).__name__} failed in {event} ({type(exc).__name__}: {exc}); "
                      "training goes on without the trainer's curves", file=sys.stderr)
                return None
        return call


def guard_reporting(trainer: Any, report_to: tuple[str, ...]) -> None:
    """Wrap the trainer's callbacks of the `report_to` integrations in `GuardedCallback`."""
    from transformers.integrations import get_reporting_integration_callbacks

    kinds = tuple(get_reporting_integration_callbacks(list(report_to)))
    handler = trainer.callback_handler
    handler.callbacks = [GuardedCallback(cb) if isinstance(cb, kinds) else cb for cb in handler.callbacks]
