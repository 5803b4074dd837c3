"""`star verifier train RUN` and `star verifier list RUN` (docs/verifier.md)."""

from __future__ import annotations

from pathlib import Path

import click

from star.cli.common import db_option, json_option, open_session, open_sessions, percent, print_json, print_table


@click.group("verifier")
def verifier_group() -> None:
    """A verifier trained on a run's right and wrong rationales (V-STaR), for best-of-N at evaluation."""


@verifier_group.command("train")
@click.argument("run")
@click.option("--round", "round_index", type=int, default=None,
              help="Train on rounds 1..R (default: the run's last finished round).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Verifier folder (must not exist; default: verifier_round_R next to round R's checkpoint, "
                   "or local for a checkpoint in a storage URI).")
@click.option("--init", default=None, metavar="PATH",
              help="Model to start from (default: round R's checkpoint, as V-STaR starts from the SFT policy).")
@click.option("--steps", type=click.IntRange(min=1), default=60, show_default=True, help="DPO optimizer steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Pairs per step.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True)
@click.option("--beta", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True,
              help="DPO beta: how far the verifier may move from the reference model.")
@click.option("--pairs-per-problem", type=click.IntRange(min=1), default=4, show_default=True,
              help="At most this many (correct, incorrect) pairs per problem, a seeded sample.")
@click.option("--holdout", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True,
              help="Share of problems held out to measure the verifier's pair accuracy.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-length", type=click.IntRange(min=8), default=1024, show_default=True,
              help="Tokens of prompt + rationale kept (longer ones are cut at the end).")
@db_option
@json_option
def train_cmd(run: str, round_index: int | None, out: Path | None, init: str | None, steps: int,
              batch_size: int, learning_rate: float, beta: float, pairs_per_problem: int, holdout: float,
              seed: int, max_length: int, db_url: str | None, as_json: bool) -> None:
    """Train a verifier on RUN's stored attempts and record it in the store."""
    from star.progress import Progress
    from star.verifier.service import VerifierOptions, plan_training, train_and_record
    from star.verifier.training import DpoSettings

    dpo = DpoSettings(steps=steps, batch_size=batch_size, learning_rate=learning_rate, beta=beta, seed=seed,
                      max_length=max_length)
    opts = VerifierOptions(round_index=round_index, out=out.resolve() if out else None, init=init,
                           pairs_per_problem=pairs_per_problem, holdout=holdout, dpo=dpo)
    with open_session(db_url) as session:
        plan = plan_training(session, run, opts)
    progress = Progress(enabled=not as_json)
    progress.log(f"verifier for {run}: {len(plan.train)} training pairs, {len(plan.held_out)} held out, "
                 f"from {plan.problems} problems of rounds 1-{plan.round_index}")
    with open_sessions(db_url) as sessions:
        record = train_and_record(sessions, plan, opts, progress)
    if as_json:
        print_json(record)
        return
    accuracy = record["metrics"]["held_out_accuracy"]
    shown = "no held-out pairs" if accuracy is None else f"held-out pair accuracy {accuracy:.1%}"
    click.echo(f"verifier {record['id']} of {run} (rounds 1-{plan.round_index}, {record['pairs']} pairs, "
               f"{record['steps']} steps, {shown}): {record['path']}")


@verifier_group.command("list")
@click.argument("run")
@db_option
@json_option
def list_cmd(run: str, db_url: str | None, as_json: bool) -> None:
    """RUN's verifiers, oldest first, with their lineage."""
    from db.store import get_run, list_verifiers
    from star.verifier.service import verifier_dict

    with open_session(db_url) as session:
        records = [verifier_dict(row, index) for row, index in list_verifiers(session, get_run(session, run))]
    if as_json:
        print_json(records)
        return
    rows = [[r["id"], r["round"], r["pairs"], r["steps"], percent(r["metrics"].get("held_out_accuracy")),
             r["init"], r["path"]] for r in records]
    print_table(["id", "rounds 1..", "pairs", "steps", "held-out acc", "from", "path"], rows,
                 empty=f"run {run!r} has no verifiers; `star verifier train {run}` trains one")


COMMANDS: list[click.Command] = [verifier_group]
