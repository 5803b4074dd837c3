"""Questions a researcher asks of a run: `star problem`, `star flips`, `star compare`.

The answers come from db/story.py, db/flips.py and db/compare.py; `--json`
prints exactly what those return (and what `star serve` answers under /api/).
"""

from __future__ import annotations

from typing import Any

import click

from star.cli.common import db_option, json_option, open_session, print_json, print_table

SPLIT = click.Choice(["train", "eval"])
FLIP_LABELS = {"unsolved_to_solved": "unsolved → solved", "solved_to_regressed": "solved → regressed",
               "hint_only_to_unaided": "hint-only → unaided", "stable_solved": "stable, solved",
               "stable_unsolved": "stable, unsolved"}


@click.command("problem")
@click.argument("run")
@click.argument("problem_id", metavar="ID")
@click.option("--split", type=SPLIT, default=None, help="The problem's split, when the id is in both.")
@click.option("--dataset", default=None, help="The problem's dataset, when the id is in several.")
@click.option("--from", "first", type=int, default=None, help="Start the page at this round.")
@click.option("--rounds", "per_page", type=click.IntRange(1, 50), default=10, show_default=True,
              help="Rounds per page.")
@click.option("--full", is_flag=True, help="Whole completions instead of one line each.")
@db_option
@json_option
def problem_cmd(run: str, problem_id: str, split: str | None, dataset: str | None, first: int | None,
                per_page: int, full: bool, db_url: str | None, as_json: bool) -> None:
    """The story of problem ID in RUN: every round's attempts, verdicts, acceptance, rationalization,
    and the held-out answer."""
    from db.story import problem_story

    with open_session(db_url) as session:
        story = problem_story(session, run, problem_id, split=split, dataset=dataset, first=first,
                              rounds_per_page=per_page)
    if as_json:
        print_json(story)
        return
    _print_story(story, full)


def _print_story(story: dict[str, Any], full: bool) -> None:
    problem = story["problem"]
    click.echo(f"problem {problem['external_id']} ({problem['dataset']}/{problem['split']}) in run {story['run']}")
    click.echo(f"question: {problem['question']}\ngold: {problem['gold']}   metadata: {problem['metadata']}")
    click.echo("states: " + " · ".join(f"r{s['round']} {s['state'] or '-'}" for s in story["states"]))
    for rnd in story["rounds"]:
        c = rnd["counts"]
        click.echo(f"\nround {rnd['round']}: {rnd['state'] or '-'} — direct {c['direct_accepted']}/{c['direct']} "
                   f"accepted, rationalized {c['rationalized_accepted']}/{c['rationalized']} accepted, "
                   f"held-out greedy {c['eval_correct']}/{c['eval']} right, sampled {c['eval_sample_correct']}/"
                   f"{c['eval_sample']} right")
        if rnd["heldout"] is not None:
            held = rnd["heldout"]
            click.echo(f"held-out answer: {held['answer']} ({'right' if held['correct'] else 'wrong'}"
                       f"{', changed' if held['changed'] else ''})")
        rows = [[a["id"], a["kind"], a["sample_index"], a["status"], a["extracted"], a["correct"], a["accepted"],
                 a["completion"] if full else " ".join(a["completion"].split())] for a in rnd["attempts"]]
        print_table(["id", "kind", "#", "status", "answer", "correct", "accepted", "completion"], rows,
                    empty="no attempts", clip_last=not full)
    page = story["page"]
    if page["next"] is not None:
        click.echo(f"\nmore rounds: --from {page['next']}")


@click.command("flips")
@click.argument("run")
@click.option("--from", "first", type=int, default=None, help="First round of the window (default: the first).")
@click.option("--to", "last", type=int, default=None, help="Last round of the window (default: the last).")
@click.option("--split", type=SPLIT, default="train", show_default=True,
              help="train: accepted direct attempts; eval: the greedy held-out answer.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Problems listed per flip.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many problems of each list.")
@db_option
@json_option
def flips_cmd(run: str, first: int | None, last: int | None, split: str, limit: int, offset: int,
              db_url: str | None, as_json: bool) -> None:
    """Which problems of RUN flipped: unsolved → solved, solved → regressed, hint-only → unaided, stable;
    per round and per eval group."""
    from db.flips import CHANGES, FLIPS, run_flips

    with open_session(db_url) as session:
        found = run_flips(session, run, split=split, first=first, last=last, limit=limit, offset=offset)
    if as_json:
        print_json(found)
        return
    click.echo(f"{found['problems']} {split} problems of {run}, rounds {found['from']}–{found['to']}")
    print_table(["flip", "problems"], [[FLIP_LABELS[f], found["counts"][f]] for f in FLIPS], empty="")
    print_table(["round", *[FLIP_LABELS[f] for f in CHANGES]],
                [[r["round"], *[r[f] for f in CHANGES]] for r in found["by_round"]], empty="no flips")
    if found["groups"]:
        print_table(["group", "problems", *[FLIP_LABELS[f] for f in FLIPS]],
                    [[g, c["problems"], *[c[f] for f in FLIPS]] for g, c in found["groups"].items()], empty="")
    for flip in CHANGES:
        listed = found["lists"][flip]
        if listed:
            click.echo(f"{FLIP_LABELS[flip]}: " + ", ".join(
                f"{p['problem']} (r{p['round']}" + (f", hint r{p['hint_round']})" if "hint_round" in p else ")")
                for p in listed))


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--split", type=SPLIT, default="eval", show_default=True, help="Which problems to compare.")
@click.option("--round-a", type=int, default=None, help="Round of RUN_A to compare (default: its last).")
@click.option("--round-b", type=int, default=None, help="Round of RUN_B to compare (default: its last).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Problems listed per side.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many problems of each list.")
@db_option
@json_option
def compare_cmd(run_a: str, run_b: str, split: str, round_a: int | None, round_b: int | None, limit: int,
                offset: int, db_url: str | None, as_json: bool) -> None:
    """RUN_A and RUN_B side by side: per-round metrics, and the problems one solves that the other does not."""
    from db.compare import compare_runs

    with open_session(db_url) as session:
        found = compare_runs(session, run_a, run_b, split=split, round_a=round_a, round_b=round_b,
                             limit=limit, offset=offset)
    if as_json:
        print_json(found)
        return
    _print_comparison(found)


def _print_comparison(found: dict[str, Any]) -> None:
    from star.cli.common import percent

    a, b = found["a"], found["b"]

    def side(values: dict[str, Any] | None, key: str) -> Any:
        value = None if values is None else values.get(key)
        return percent(value) if key == "eval_accuracy" else value

    rows = [[r["round"], side(r["a"], "eval_accuracy"), side(r["b"], "eval_accuracy"),
             side(r["a"], "accepted_direct"), side(r["b"], "accepted_direct"),
             side(r["a"], "accepted_rationalized"), side(r["b"], "accepted_rationalized")] for r in found["rounds"]]
    print_table(["round", f"held-out {a}", f"held-out {b}", f"direct {a}", f"direct {b}",
                 f"rationalized {a}", f"rationalized {b}"], rows, empty="no rounds")
    p = found["problems"]
    click.echo(f"{found['split']} problems, {a} round {p['round_a']} vs {b} round {p['round_b']}: "
               f"{p['shared']} shared, "
               f"{p['both_solve']} solved by both, {p['neither_solves']} by neither, {p['a_solves_b_not']} by {a} "
               f"only, {p['b_solves_a_not']} by {b} only")
    for key, who in (("a_not_b", a), ("b_not_a", b)):
        if p[key]:
            click.echo(f"solved by {who} only: " + ", ".join(x["problem"] for x in p[key]))


COMMANDS: list[click.Command] = [problem_cmd, flips_cmd, compare_cmd]
