"""`star serve`: the read-only web view of a store (star/serve/, docs/serve.md)."""

from __future__ import annotations

import click

from star.cli.common import db_option


@click.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback needs --token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port to listen on.")
@click.option("--token", envvar="STAR_SERVE_TOKEN", default=None, metavar="TOKEN",
              help="Require this token on every request (default: $STAR_SERVE_TOKEN).")
def serve_cmd(db_url: str | None, host: str, port: int, token: str | None) -> None:
    """Browse a store in a web browser: runs, rounds and plots, a problem's story, flips, search, and
    a JSON API under /api/. The database is opened read-only."""
    import uvicorn

    from db.readonly import open_readonly
    from db.urls import default_database_url, display_url
    from star.serve.app import create_app
    from star.serve.auth import check_bind

    token = token or None  # an empty $STAR_SERVE_TOKEN is no token
    check_bind(host, token)
    url = db_url or default_database_url()
    engine = open_readonly(url)
    shown = display_url(url)
    app = create_app(engine, token=token, label=shown)
    where = f"[{host}]" if ":" in host else host
    click.echo(f"serving {shown} read-only at http://{where}:{port}/" + (" (token required)" if token else ""))
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        engine.dispose()


COMMANDS: list[click.Command] = [serve_cmd]
