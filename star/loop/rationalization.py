"""Rationalization: hinted retries of the problems the model failed.

The hinted prompts are served by the generation workers' engines (a second
engine would hold a second copy of the weights and KV cache on every host);
this module owns what is specific to rationalization: building the hinted
requests and turning a hinted completion into a training example whose prompt
has the hint removed.
"""

from __future__ import annotations

from star.engines.requests import Completion, GenRequest, chat_turns, request_seed
from star.tasks.base import Problem, Task

KIND = "rationalized"


def hinted_requests(task: Task, problems: dict[int, Problem], *, n: int, temperature: float,
                    top_p: float, max_tokens: int, stop: tuple[str, ...], run_seed: int,
                    round_index: int) -> list[GenRequest]:
    """One request per failed problem, with the gold answer given as a hint."""
    return [
        GenRequest(problem_id=pid, kind=KIND, prompt=task.hinted_prompt(problem), n=n,
                   temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop,
                   seed=request_seed(run_seed, round_index, problem.uid, KIND),
                   messages=chat_turns(task, task.hinted_prompt(problem)))
        for pid, problem in problems.items()
    ]


def training_prompt(task: Task, completion: Completion, problem: Problem) -> str:
    """The prompt stored for training: the hinted prompt with its hint removed."""
    if completion.kind != KIND:
        return completion.prompt
    return task.remove_hint(completion.prompt, problem)
