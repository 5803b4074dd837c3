"""`star tasks`: look at a task's problems and prompts before spending GPU hours."""

from __future__ import annotations

import json

import click

from star.config.tasks import load_task_config
from star.tasks import Problem, Task, build_task

_RULE = "=" * 72


@click.group("tasks")
def tasks_group() -> None:
    """Inspect a task: its problems, gold answers and rendered prompts."""


@tasks_group.command("preview")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--n", "count", default=3, show_default=True, type=click.IntRange(min=1),
    help="How many training problems to show.",
)
@click.option(
    "--skip-invalid", is_flag=True,
    help="Drop rows with a missing question or answer or an unparseable gold answer, "
    "and report how many, instead of stopping at the first.",
)
def preview(config: str, count: int, skip_invalid: bool) -> None:
    """Print the first prompts of CONFIG's task, direct and hinted, with the gold answers.

    CONFIG is a star run config YAML; only its `task:` section is read. Every
    row is loaded and validated first, so a bad row fails here exactly as it
    would in `star run`.
    """
    task = build_task(load_task_config(config), skip_invalid=skip_invalid)
    click.echo(summary(task))
    shown = task.train_problems()[:count]
    for index, problem in enumerate(shown, start=1):
        click.echo(render_problem(task, problem, index, len(shown)))


def summary(task: Task) -> str:
    """The task's sizes, what was dropped while loading, and how prompts are sent."""
    lines = [
        f"task: {task.dataset}",
        f"training pool: {len(task.train_problems())} problems; "
        f"held-out: {len(task.eval_problems())} problems",
    ]
    duplicates = getattr(task, "duplicates_dropped", 0)
    if task.skipped_invalid or duplicates:
        lines.append(f"dropped: {task.skipped_invalid} invalid rows, {duplicates} duplicates")
    shots = getattr(task, "shots", [])
    lines.append(f"few-shot examples: {len(shots)}; stop strings: {json.dumps(list(task.stop))}")
    lines.append(f"chat template: {'yes' if task.use_chat_template else 'no (plain text)'}")
    return "\n".join(lines)


def render_problem(task: Task, problem: Problem, index: int, count: int) -> str:
    """One problem: its id and gold, then the direct and hinted prompts, verbatim."""
    from star.checker import can_parse_gold

    parsed = "parsed by the checker" if can_parse_gold(problem.gold) else "NOT parsable by the checker"
    parts = [
        _RULE,
        f"problem {index}/{count}  uid={problem.uid}  group={task.eval_group(problem)}",
        f"gold answer: {problem.gold}  ({parsed})",
        "--- prompt " + "-" * 61,
        task.prompt(problem),
        "--- hinted prompt (for rationalization; stored without the hint) " + "-" * 6,
        task.hinted_prompt(problem),
    ]
    if task.use_chat_template:
        messages = task.to_messages(task.prompt(problem))
        parts += ["--- as chat messages " + "-" * 51, json.dumps(messages, indent=1, ensure_ascii=False)]
    return "\n".join(parts)


COMMANDS: list[click.Command] = [tasks_group]
