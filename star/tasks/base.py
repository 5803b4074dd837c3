"""What every task provides to the loop.

A task loads problems, knows each gold answer, renders the rationale prompt and
the hinted (rationalization) prompt, and can remove the hint again so that a
stored training prompt never contains it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the checker package imports sympy; tasks stay light
    from star.checker.forms import AnswerType


#: where tasks keep their training pool and held-out split (`train_problems`, `eval_problems`)
_POOL_ATTRIBUTES = ("_train", "_eval")


@dataclass(frozen=True)
class Problem:
    """One problem. `uid` is unique per (dataset, split) and stable across runs."""

    uid: str
    question: str
    gold: str
    metadata: dict[str, Any] = field(default_factory=dict)


def content_hash(*parts: str) -> str:
    """Stable short hash of a problem's content, used for uids and deduplication."""
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return digest[:16]


class Task(ABC):
    """Interface the loop uses. Subclasses live in star/tasks/<name>.py."""

    #: dataset name as recorded in the store (`problems.dataset`)
    dataset: str
    #: strings that end a completion (the loop adds them to the sampling stop list)
    stop: tuple[str, ...] = ()
    #: send prompts as chat messages (`to_messages`) through the model's chat template
    use_chat_template: bool = False
    #: the form a final answer must take: "number" rejects an expression such as
    #: "12+44" (status not_a_number) that a symbolic check would find equal to 56
    answer_type: AnswerType = "symbolic"
    #: rows dropped as invalid when the task was built with skip_invalid=True
    skipped_invalid: int = 0

    @abstractmethod
    def train_problems(self) -> list[Problem]:
        """The training pool, deterministic under the task's seed."""

    @abstractmethod
    def eval_problems(self) -> list[Problem]:
        """The held-out split; never overlaps the training pool."""

    @abstractmethod
    def prompt(self, problem: Problem) -> str:
        """The prompt the model sees when writing a rationale."""

    @abstractmethod
    def hinted_prompt(self, problem: Problem) -> str:
        """The prompt with the gold answer given as a hint (rationalization)."""

    @abstractmethod
    def remove_hint(self, hinted_prompt: str, problem: Problem) -> str:
        """Inverse of `hinted_prompt`: must return exactly `prompt(problem)`."""

    def to_messages(self, prompt: str) -> list[dict[str, str]]:
        """The prompt as chat messages, for models with a chat template.

        The stored prompt stays the plain text; this is only how it is sent.
        Tasks with few-shot examples split them into user/assistant turns.
        """
        return [{"role": "user", "content": prompt}]

    def for_checking(self) -> Task:
        """This task without its problem pools: what the checker actor uses (`answer_type`,
        `check_steps`), small enough to travel inline with the actor's constructor call.

        Ray keeps a constructor argument over 100 KB in the object store, and a restartable actor
        whose argument is lost there cannot restart (ray-project/ray#53727); the default task's
        pools alone are over that.
        """
        light = copy.copy(self)
        for name in _POOL_ATTRIBUTES:
            if hasattr(light, name):
                setattr(light, name, [])
        return light

    def eval_group(self, problem: Problem) -> str:
        """Label for per-group held-out accuracy (digit count, MATH level, ...)."""
        return "all"

    def check_steps(self, completion: str, problem: Problem) -> bool:
        """True when every checkable step of a rationale is right.

        Used by the `answer_and_steps` acceptance mode. The default verifies
        calculator annotations and arithmetic lines with the checker's exact
        arithmetic; tasks with their own scratchpad format override it.
        """
        from star.checker import check_steps

        return check_steps(completion).ok

    def work_refusal(self, completion: str, problem: Problem) -> str | None:
        """Why a rationale that reached the gold answer does not show its work, or None when it does.

        Used on rationalized attempts (and on direct ones with `require_work: all`)
        so that a restated hint is never trained on. The default: for number
        answers, a right checkable step before the answer line and the gold not
        written before the step that computes it; otherwise an equation or enough
        words of the rationale's own (star/checker/work.py). Tasks with their own
        format override it.
        """
        from star.checker.work import number_value, number_work_refusal, text_work_refusal

        if self.answer_type == "number" and number_value(problem.gold) is not None:
            return number_work_refusal(completion, problem.gold, problem.question)
        return text_work_refusal(completion, [problem.question, problem.gold])

    def has_steps(self, completion: str, problem: Problem) -> bool:
        """Whether a rationale writes out any checkable step before its answer line, right or wrong: what
        a held-out answer loses when a model learns to skip the reasoning. Default: an arithmetic step
        for number answers, the work rule otherwise (text has no step to check)."""
        from star.checker.work import has_steps

        if self.answer_type == "number":
            return has_steps(completion)
        return self.work_refusal(completion, problem) is None

    def answer_only(self, problem: Problem) -> str:
        """A completion that gives the gold answer and no rationale, in the form the checker reads: what
        the direct-answer control (`training.data: gold_answers`) trains on."""
        return f"The answer is {problem.gold}."

    def reasoning_path(self, completion: str, problem: Problem) -> str:
        """The rationale reduced to what it computes: two rationales with the same path are one
        distinct reasoning path (training.dedup: path). Default: its checkable steps in order."""
        from star.checker.work import step_path

        return step_path(completion)


def model_prompt(task: Task | None, prompt: str) -> str | list[dict[str, str]]:
    """A stored prompt as the model was sent it: the task's chat messages when it uses the
    model's chat template (rendered by star.training.prompts.render_prompt), else the text itself."""
    if task is not None and task.use_chat_template:
        return task.to_messages(prompt)
    return prompt
