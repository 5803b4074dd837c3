"""The `star` command line.

Each command group lives in its own module and is added here explicitly, so a
reader can see every command in one place. Errors meant for users
(`StarError` from star/, `StoreError` from db/) become one line on stderr and
exit code 2; nothing else is swallowed.
"""

from __future__ import annotations

import sys

import click

from star.errors import StarError


def _user_error_types() -> tuple[type[BaseException], ...]:
    try:
        from db.errors import StoreError
    except ImportError:  # the store package is optional for `star check`
        return (StarError,)
    return (StarError, StoreError)


class StarGroup(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except _user_error_types() as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=StarGroup)
@click.version_option(package_name="star")
def cli() -> None:
    """STaR (Self-Taught Reasoner) rounds on Ray, with every rationale kept in SQL."""


def register_commands() -> None:
    from star.cli import check as check_cmds
    from star.cli import db_check  # noqa: F401  (adds `star db check` to the db group on import)
    from star.cli import evaluate as eval_cmds
    from star.cli import explore as explore_cmds
    from star.cli import jobs as job_cmds
    from star.cli import models as model_cmds
    from star.cli import report as report_cmds
    from star.cli import run as run_cmds
    from star.cli import schedule as schedule_cmds
    from star.cli import serve as serve_cmds
    from star.cli import store as store_cmds
    from star.cli import tasks as task_cmds
    from star.cli import verifier as verifier_cmds

    for module in (run_cmds, store_cmds, check_cmds, task_cmds, job_cmds, schedule_cmds, model_cmds,
                   report_cmds, eval_cmds, verifier_cmds, explore_cmds, serve_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    register_commands()
    cli()
