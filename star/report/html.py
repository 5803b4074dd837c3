"""`star report RUN`: a static HTML page of a run, with its charts as PNG files next to it.

data.py reads the store, figures.py draws the PNGs, page.py writes index.html.
docs/report.md describes the page.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from star.report.figures import draw_figures
from star.report.page import render_page
from star.report.page_data import ReportData, load_report_data

__all__ = ["ReportData", "load_report_data", "write_report"]


def write_report(session: Session, run_name: str, out_dir: Path, *, per_category: int = 3,
                 serve_url: str | None = None) -> Path:
    """Write `out_dir/index.html` and its PNGs for `run_name`; returns the page's path.

    The store is read before anything is written, so an unknown run leaves no folder behind.
    `serve_url`: where `star serve` shows this store; the page then links to the run there.
    """
    data = load_report_data(session, run_name, per_category=per_category)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = draw_figures(data, out_dir)
    page = out_dir / "index.html"
    page.write_text(render_page(data, figures, serve_url=serve_url), encoding="utf-8")
    return page
