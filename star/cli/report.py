"""`star report RUN [--out DIR]`: the run as one static HTML page with its charts."""

from __future__ import annotations

import re
from pathlib import Path

import click

from star.cli.common import db_option, json_option, open_session, print_json
from star.errors import StarError


@click.command("report")
@click.argument("run")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for index.html and its PNGs (default: ./RUN-report).")
@click.option("--samples", "per_category", type=click.IntRange(0, 50), default=3, show_default=True,
              help="Rationales shown per round for each of right, wrong and rationalized.")
@click.option("--serve-url", default=None, metavar="URL",
              help="Where `star serve` shows this store (e.g. http://127.0.0.1:8765): the page links to the run there.")
@db_option
@json_option
def report_cmd(run: str, out_dir: Path | None, per_category: int, serve_url: str | None, db_url: str | None,
               as_json: bool) -> None:
    """Write RUN's report: learning curves of every stored metric, accepted rationales,
    timings, check errors, sample rationales, config and lineage. Works offline."""
    from star.progress import Progress
    from star.report.html import write_report

    out_dir = out_dir or Path(f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', run)}-report")
    if out_dir.exists() and not out_dir.is_dir():
        raise StarError(f"--out {out_dir} is a file; give a folder (it is created if missing)")
    with open_session(db_url) as session, Progress(enabled=not as_json).spinner(f"writing the report of {run}"):
        page = write_report(session, run, out_dir, per_category=per_category, serve_url=serve_url)
    if as_json:
        print_json({"run": run, "page": str(page.resolve()), "folder": str(page.parent.resolve())})
        return
    click.echo(f"report: {page}")


COMMANDS: list[click.Command] = [report_cmd]
