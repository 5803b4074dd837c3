"""index.html of `star report`: one static page, no script, no network, images next to it.

Every value from the store (model output above all: it is untrusted) goes
through `esc`, table cells included; markup is only ever built here around it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from star.evaluation.metric_names import family_groups, parse_metric, sorted_families
from star.report.charts import PHASES, rationalization_share
from star.report.figures import Figure
from star.report.page_data import CATEGORIES, MAX_CHECK_ERRORS, ReportData, Sample, ordered_splits
from star.report.table import exploration_headers, exploration_rows, ledger_headers, ledger_rows

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1240px; padding: 0 1em; color: #222; }
h1 { margin-bottom: .2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
.scroll { overflow-x: auto; } table { border-collapse: collapse; margin: .8em 0; font-size: 85%; }
th, td { border: 1px solid #ddd; padding: .25em .45em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 90%; color: #555; }
details pre { margin-bottom: 0; } summary { font-size: 85%; color: #555; cursor: pointer; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
.prompt { color: #777; } .completion { color: #000; font-weight: 600; }
.sample { margin: .6em 0 1.2em; } .meta { font-size: 90%; color: #444; }
.right { color: #1a7f37; } .wrong { color: #b42318; } .rationalized { color: #9a6700; }
.error { color: #b42318; } nav a { margin-right: 1em; }
"""


def esc(value: Any) -> str:
    """`value` as HTML text; None as a dash."""
    return html.escape("–" if value is None else str(value), quote=True)


def render_page(data: ReportData, figures: Sequence[Figure], *, serve_url: str | None = None) -> str:
    name = data.run["name"]
    sections = [
        ("rounds", "Rounds", _rounds_section(data)),
        ("evaluation", "Evaluation", _evaluation_section(data, figures)),
        ("rationales-accepted", "Accepted rationales and timings", _figures_html(figures, ("accepted", "timings"))),
        ("exploration", "Refusals and exploration", _exploration_section(data, figures)),
        ("ledger", "Tokens generated", _ledger_section(data, figures)),
        ("check-errors", "Check errors", _check_errors_section(data)),
        ("samples", "Rationales", _samples_section(data)),
        ("lineage", "Lineage", _lineage_section(data)),
        ("config", "Config", f"<pre>{esc(json.dumps(data.run['config'], indent=2, sort_keys=True))}</pre>"),
    ]
    nav = " ".join(f'<a href="#{anchor}">{esc(title)}</a>' for anchor, title, _ in sections)
    body = "\n".join(f'<section id="{anchor}"><h2>{esc(title)}</h2>\n{content}</section>'
                     for anchor, title, content in sections)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        # An empty icon: the browser asks for no favicon.ico (a console error when served over HTTP).
        "<link rel=\"icon\" href=\"data:,\">\n"
        f"<title>STaR report: {esc(name)}</title>\n<style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>STaR run {esc(name)}</h1>\n{_run_meta(data)}\n<nav>{nav}</nav>\n{body}\n"
        f"<footer><p class=\"meta\">Written by <code>star report</code> at {esc(generated)}."
        f"{_serve_link(name, serve_url)}</p></footer>\n"
        "</body></html>\n"
    )


def _serve_link(run: str, serve_url: str | None) -> str:
    """A link to the run in `star serve` (its stories, flips and search), when its address is known."""
    if not serve_url:
        return ""
    href = f"{serve_url.rstrip('/')}/run?{urlencode({'run': run})}"
    return f' Browse its problems, flips and rationales in <a href="{esc(href)}">star serve</a>.'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, text_cols: Sequence[int] = ()) -> str:
    """An HTML table; every cell escaped; `text_cols` align left."""
    def cell(tag: str, i: int, value: Any) -> str:
        cls = ' class="text"' if i in text_cols else ""
        return f"<{tag}{cls}>{esc(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "\n".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    # A wide table (many groups or metrics) scrolls inside its own box, not the page.
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>'


def _run_meta(data: ReportData) -> str:
    run = data.run
    rows = [("status", run["status"]), ("base model", run["base_model"]), ("rounds", len(data.summaries)),
            ("created", run["created_at"][:19]), ("updated", run["updated_at"][:19])]
    meta = " · ".join(f"{esc(k)}: <b>{esc(v)}</b>" for k, v in rows)
    error = f'<p class="error">error: {esc(run["error"])}</p>' if run["error"] else ""
    return f'<p class="meta">{meta}</p>{error}'


def _rounds_section(data: ReportData) -> str:
    if not data.summaries:
        return "<p>The run has no rounds yet.</p>"
    headers = ["round", "status", "attempted", "direct", "rationalized", "rationalized share", "check errors",
               "train examples", "train steps", "dataset rows", *[f"{p} s" for p in PHASES], "total s"]
    rows = []
    for s in data.summaries:
        timings = s.get("timings") or {}
        rows.append([s["round"], s["status"], s["attempted"], s["accepted_direct"], s["accepted_rationalized"],
                     _pct(rationalization_share(s)), s.get("check_errors"), s["train_examples"], s["train_steps"],
                     s.get("dataset_rows"), *[_secs(timings.get(p)) for p in PHASES],
                     _secs(sum(float(v) for v in timings.values()) if timings else None)])
    return table(headers, rows, text_cols=(1,))


def _exploration_section(data: ReportData, figures: Sequence[Figure]) -> str:
    rows = exploration_rows(data.summaries)
    if not rows:
        return ("<p>No training round has counted its refusals and exploration (rounds finished before the "
                "store kept these counts, revision 0009).</p>")
    return table(exploration_headers(), rows) + _figures_html(figures, ("exploration",))


def _ledger_section(data: ReportData, figures: Sequence[Figure]) -> str:
    rows = ledger_rows(data.summaries)
    if not rows:
        return "<p>No round has stored attempts to count tokens from.</p>"
    return table(ledger_headers(), rows) + _figures_html(figures, ("ledger",))


def _evaluation_section(data: ReportData, figures: Sequence[Figure]) -> str:
    if not data.evaluations:
        return "<p>No evaluations stored for this run.</p>"
    rounds = [s["round"] for s in data.summaries]
    parts = []
    for split in ordered_splits(data):
        metrics = data.evaluations[split]
        families = sorted_families(metrics)
        parts.append(f"<h3>Split {esc(split)}: overall</h3>")
        parts.append(table(["round", *families], [[r, *[_pct(metrics.get(f, {}).get(r)) for f in families]]
                                                   for r in rounds]))
        parts.append(_figures_html(figures, (f"eval:{split}",)))
        for family in families:
            parts.append(f"<h3>{esc(family)} ({esc(split)})</h3>")
            parts.append(_figures_html(figures, (f"eval:{split}:{family}",)))
            groups = family_groups(metrics, family)
            if groups:
                names = [parse_metric(g).group for g in groups]
                parts.append(table(["round", *names], [[r, *[_pct(metrics[g].get(r)) for g in groups]]
                                                       for r in rounds]))
    return "\n".join(parts)


def _figures_html(figures: Sequence[Figure], sections: Sequence[str]) -> str:
    return "\n".join(
        f'<figure><img src="{esc(f.file)}" alt="{esc(f.caption)}" width="770">'
        f"<figcaption>{esc(f.caption)}</figcaption></figure>"
        for f in figures if f.section in sections
    )


def _check_errors_section(data: ReportData) -> str:
    per_round = [(s["round"], s.get("check_errors")) for s in data.summaries if s.get("check_errors")]
    if not per_round and not data.check_errors:
        return "<p>No check errors: every answer was judged (no checker timeout or crash left).</p>"
    parts = [table(["round", "check errors"], per_round)] if per_round else []
    if data.check_errors:
        parts.append(f"<p>Attempts whose check timed out or crashed (at most {MAX_CHECK_ERRORS}):</p>")
        parts += [sample_html(s) for s in data.check_errors]
    return "\n".join(parts)


def _samples_section(data: ReportData) -> str:
    if not data.samples:
        return "<p>No attempts stored for this run.</p>"
    parts = ["<p>A few stored attempts per round. Rationalized ones are shown as they are trained: "
             "the training prompt, without the hint, and the completion.</p>"]
    for rnd in sorted({s.round for s in data.samples}):
        parts.append(f"<h3>Round {esc(rnd)}</h3>")
        for category in CATEGORIES:
            picked = [s for s in data.samples if s.round == rnd and s.category == category]
            if picked:
                parts.append(f'<h4 class="{category}">{esc(category)}</h4>')
                parts += [sample_html(s) for s in picked]
    return "\n".join(parts)


def sample_html(s: Sample) -> str:
    meta = (f"round {esc(s.round)} · attempt {esc(s.attempt_id)} · problem {esc(s.problem)} · {esc(s.kind)} · "
            f"{esc(s.status)} · answer {esc(s.extracted)} · gold {esc(s.gold)}")
    # A few-shot prompt repeats its examples in every sample: they fold away (<details>, no script),
    # and the last block, the problem itself, stays in view in front of the completion.
    examples, sep, question = s.prompt.rpartition("\n\n")
    folded = (f'<details><summary>few-shot prompt ({examples.count(chr(10)) + 1} lines)</summary>'
              f'<pre class="prompt">{esc(examples + sep)}</pre></details>') if examples else ""
    return (f'<div class="sample"><div class="meta">{meta}</div>{folded}'
            f'<pre><span class="prompt">{esc(question)}</span><span class="completion">{esc(s.completion)}'
            "</span></pre></div>")


def _lineage_section(data: ReportData) -> str:
    if not data.models:
        return "<p>No models recorded yet.</p>"
    with_kind = any("kind" in m for m in data.models)
    headers = ["round", *(["kind"] if with_kind else []), "path", "parent", "base", "train examples", "steps",
               "created", "metrics"]
    rows = [[m["round"], *([m.get("kind")] if with_kind else []), m["path"], m["parent"], m["base"],
             m["train_examples"], m["steps"], m["created_at"][:19], _compact(m["metrics"])] for m in data.models]
    text = {"kind", "path", "parent", "base", "created", "metrics"}
    return table(headers, rows, text_cols=[i for i, h in enumerate(headers) if h in text])


def _compact(metrics: Any) -> str:
    if not metrics:
        return ""
    return ", ".join(f"{k}={_short(v)}" for k, v in sorted(metrics.items())) if isinstance(metrics, dict) \
        else str(metrics)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _pct(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{100 * value:.1f}%" if 0.0 <= value <= 1.0 else f"{value:.4g}"


def _secs(value: float | None) -> str | None:
    return None if value is None else f"{float(value):.1f}"
