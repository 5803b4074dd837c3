"""The checker's results: plain frozen dataclasses that pickle across processes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["correct", "incorrect", "no_answer", "unparseable", "timeout", "crashed", "not_a_number"]
STATUSES: tuple[Status, ...] = ("correct", "incorrect", "no_answer", "unparseable", "timeout", "crashed",
                               "not_a_number")
#: Statuses that say nothing about the answer: the check overran its timeout or its worker process
#: died. A round checks them once more before it trains (star/loop/recheck.py); what is left counts
#: as a check error, not a wrong answer.
CHECK_ERRORS: tuple[Status, ...] = ("timeout", "crashed")


@dataclass(frozen=True)
class Verdict:
    """The judgement of one prediction against one gold answer.

    `correct` is True only for status "correct"; `extracted` is the answer text
    found in the prediction (None when nothing was found or the check timed out).
    "timeout" and "crashed" (the worker process died mid-check) say nothing about
    the answer: they are check errors, not wrong answers.
    """

    correct: bool
    status: Status
    extracted: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}; expected one of {STATUSES}")
        if self.correct != (self.status == "correct"):
            raise ValueError(f"correct={self.correct} contradicts status={self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StepVerdict:
    """The judgement of the checkable arithmetic steps inside one rationale.

    `checked` counts the steps that could be verified exactly; a rationale with
    none is vacuously `ok`. `first_wrong_index` counts from 0 over checked steps.
    """

    ok: bool
    first_wrong_index: int | None
    first_wrong_text: str | None
    checked: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
