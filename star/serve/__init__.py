"""`star serve`: a read-only web view of a store (SQLite or PostgreSQL), with a JSON API under /api/.

app.py builds the FastAPI application; auth.py guards it (loopback only, or a
token on every request); pages.py renders Jinja2 templates (templates/, no
JavaScript) and api.py answers what the CLI's `--json` prints; plots.py draws
a run's charts with star/report/charts.py. docs/serve.md describes it.
"""
