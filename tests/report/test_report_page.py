"""`star report` on a real SQLite store: what the page says, its images, escaping and errors."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from db.engine import open_store, session_factory
from db.store import get_or_create_run
from star.evaluation.metric_names import family_groups, family_sort_key, parse_metric, sorted_families


class _Page(HTMLParser):
    """Image sources, tags and visible text of a page (the text with entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: Path) -> _Page:
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def sections(page: Path) -> dict[str, str]:
    """Section id -> its markup."""
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page.read_text(), flags=re.S))


def test_every_image_is_a_png_next_to_the_page(report: Path) -> None:
    images = parse(report).images
    assert images and all("/" not in src and not src.startswith(("http", "data:")) for src in images)
    for src in images:
        assert (report.parent / src).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), src
    assert sorted(images) == sorted(p.name for p in report.parent.glob("*.png"))


def test_every_stored_metric_family_has_curves_and_a_table(report: Path, facts) -> None:
    evaluation = sections(report)["evaluation"]
    images = parse(report).images
    # One chart comparing the families, one per family (split by digits), then accepted, exploration, tokens
    # generated and timings.
    assert len(images) == 1 + len(facts.families) + 4
    for family, values in facts.families.items():
        assert f"<h3>{family} (eval)</h3>" in evaluation
        assert any(f"-eval-{re.sub('[^A-Za-z0-9_.-]+', '-', family)}-digits.png" in src for src in images)
        assert f"{100 * values[2]:.1f}%" in evaluation  # overall, last round
        assert f"{100 * values[2] / 2:.1f}%" in evaluation  # digits=2, last round
    assert "<th>digits=1</th><th>digits=2</th>" in evaluation
    # The unknown family is there too, after the known ones.
    header = re.search(r"<thead><tr>(.*?)</tr>", evaluation).group(1)
    assert re.findall(r"<th>([^<]+)</th>", header) == [
        "round", "accuracy", "maj@8", "pass@8", "best_of_n", "weighted_best_of_n", "self_check@4"]


def test_rounds_counts_share_and_timings(report: Path, facts) -> None:
    rounds = sections(report)["rounds"]
    rows = re.findall(r"<tr>(.*?)</tr>", rounds, flags=re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    assert [c[:10] for c in cells] == [
        ["0", "done", "–", "–", "–", "–", "0", "–", "–", "–"],
        ["1", "done", "8", "3", "1", "25.0%", "1", "4", "5", "–"],
        ["2", "done", "8", "3", "2", "40.0%", "0", "5", "5", "–"],
    ]
    assert cells[1][10:] == ["12.5", "4.2", "30.0", "6.0", f"{sum(facts.timings.values()):.1f}"]


def test_refusals_and_exploration_per_round(report: Path) -> None:
    explored = sections(report)["exploration"]
    rows = re.findall(r"<tr>(.*?)</tr>", explored, flags=re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    # round, refused (no work, not computed, answer first, wrong steps), solved 1+/K/none, paths/solved,
    # pass gap, held-out with steps, right with work, new paths
    assert cells[0][0] == "0" and cells[0][10:12] == ["100.0%", "100.0%"]
    assert cells[1] == ["1", "2", "0", "0", "0", "50.0%", "25.0%", "50.0%", "1.50", "", "75.0%", "50.0%", "5"]
    assert cells[2][:5] == ["2", "0", "0", "1", "0"] and cells[2][8] == "1.50" and cells[2][11] == "0.0%"
    assert "fig" in explored and "exploration.png" in explored


def test_tokens_generated_per_round_and_what_they_bought(report: Path) -> None:
    ledger = sections(report)["ledger"]
    rows = re.findall(r"<tr>(.*?)</tr>", ledger, flags=re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    # round, tokens direct, rationalized, held-out greedy, held-out sampled, generated, train ex., per train
    # ex., new paths, per new path: every stored attempt has 12 completion tokens (conftest.py)
    assert cells[0] == ["0", "0", "0", "24", "0", "24", "", "", "", ""]
    assert cells[1] == ["1", "36", "12", "0", "0", "48", "4", "12", "5", "10"]  # 48 / 5 = 9.6
    assert cells[2][:6] == ["2", "0", "0", "0", "0", "0"]
    assert "ledger.png" in ledger


def test_samples_show_right_wrong_and_rationalized_as_trained(report: Path, facts) -> None:
    samples = sections(report)["samples"]
    round1 = samples.split("<h3>Round 1</h3>")[1].split("<h3>Round 2</h3>")[0]
    assert round1.index('"right"') < round1.index("direct-right") < round1.index('"wrong"')
    assert round1.index('"rationalized"') < round1.index("rationalized-right")
    assert facts.hint not in report.read_text()  # the hint is never shown: the training prompt is
    assert "slow-check" not in round1  # a check error is no wrong answer
    round0 = samples.split("<h3>Round 0</h3>")[1].split("<h3>Round 1</h3>")[0]
    assert "eval-wrong" in round0 and "3 + 4 = 7. answer 7" in round0  # round 0 shows its evaluation


def test_check_errors_config_and_lineage(report: Path, facts) -> None:
    parts = sections(report)
    assert "slow-check answer 8" in parts["check-errors"] and "timeout" in parts["check-errors"]
    assert '&quot;temperature&quot;: 0.7' in parts["config"]
    # The page is made to be shared; the store's password is not.
    assert "s3cret" not in report.read_text() and "postgresql+psycopg://star:***@db.example:5432/star" in parts["config"]
    lineage = re.findall(r"<tr>(.*?)</tr>", parts["lineage"], flags=re.S)
    assert len(lineage) == 1 + 3
    assert ">/ckpt/round-2<" in lineage[3] and ">/ckpt/round-1<" in lineage[3]
    assert "train_loss=0.5" in lineage[3]


def test_model_output_is_escaped(report: Path, facts) -> None:
    raw = report.read_text()
    assert "<script" not in raw and "<b>bold" not in raw
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in raw
    assert facts.markup in "".join(parse(report).text)  # shown as the text it is
    assert "script" not in parse(report).tags


def test_a_run_without_rounds_still_gets_a_page(star, store: str, tmp_path: Path) -> None:
    engine = open_store(store)
    with session_factory(engine).begin() as s:
        get_or_create_run(s, "empty", config={}, base_model="tiny")
    engine.dispose()
    result = star("report", "empty", "--db", store, "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r" / "index.html").read_text()
    assert "no rounds yet" in text and "No evaluations stored" in text and not parse(tmp_path / "r" / "index.html").images


def test_default_folder_is_named_after_the_run(star, store: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = star("report", "demo", "--db", store, "--samples", "1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo-report" / "index.html").is_file()
    assert "demo-report/index.html" in result.stdout


def test_unknown_run_exits_2_and_writes_nothing(star, store: str, tmp_path: Path) -> None:
    result = star("report", "nope", "--db", store, "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "no run named 'nope'" in result.stderr and "star runs" in result.stderr
    assert not (tmp_path / "r").exists()


def test_out_that_is_a_file_exits_2(star, store: str, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    result = star("report", "demo", "--db", store, "--out", str(tmp_path / "taken"))
    assert result.exit_code == 2 and "is a file" in result.stderr


def test_missing_database_exits_2(star, tmp_path: Path) -> None:
    result = star("report", "demo", "--db", f"sqlite:///{tmp_path}/none.db", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "none.db" in result.stderr
    assert not (tmp_path / "r").exists()


def test_metric_names_split_into_family_and_group() -> None:
    assert parse_metric("maj@8/digits=3") == parse_metric("maj@8/digits=3")
    parsed = parse_metric("pass@16/subject=algebra")
    assert (parsed.family, parsed.group, parsed.group_key) == ("pass@16", "subject=algebra", "subject")
    assert parse_metric("best_of_n").group is None
    names = ["zeta", "weighted_best_of_n", "pass@16", "pass@4", "best_of_n", "maj@8/digits=1", "accuracy/digits=2"]
    assert sorted_families(names) == ["accuracy", "maj@8", "pass@4", "pass@16", "best_of_n",
                                      "weighted_best_of_n", "zeta"]
    assert family_sort_key("maj@x") < family_sort_key("pass@1")
    assert family_groups(["maj@8/digits=10", "maj@8", "maj@8/digits=2", "maj@80/digits=1"], "maj@8") == [
        "maj@8/digits=2", "maj@8/digits=10"]


def test_one_chart_per_group_key_and_split(tmp_path: Path) -> None:
    from star.report.figures import draw_figures
    from star.report.page_data import ReportData

    summaries = [{"round": r, "accepted_direct": 2, "accepted_rationalized": r, "timings": {"train": 1.0}}
                 for r in (0, 1)]
    evaluations = {
        "test": {"accuracy": {0: 0.5}},
        "eval": {"accuracy": {0: 0.2, 1: 0.4}, "accuracy/level=1": {0: 0.3, 1: 0.5},
                 "accuracy/level=2": {1: 0.1}, "accuracy/subject=algebra": {0: 0.25}, "maj@4": {0: 0.3, 1: 0.45}},
    }
    data = ReportData(run={"name": "math"}, summaries=summaries, evaluations=evaluations, models=[])
    figures = draw_figures(data, tmp_path)
    assert [f.file for f in figures] == [
        "fig01-eval-strategies.png", "fig02-eval-accuracy-level.png", "fig03-eval-accuracy-subject.png",
        "fig04-eval-maj-4.png", "fig05-test-accuracy.png", "fig06-accepted.png", "fig07-timings.png"]
    assert all((tmp_path / f.file).stat().st_size > 1000 for f in figures)


def test_the_run_commands_learning_curve_still_draws(tmp_path: Path) -> None:
    from star.report.table import plot_learning_curve

    summaries = [{"round": 0, "eval_accuracy": 0.1, "metrics": {"accuracy/digits=1": 0.2}},
                 {"round": 1, "eval_accuracy": None, "metrics": {}}]
    png = plot_learning_curve(summaries, tmp_path / "curve.png", title="t")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_few_shot_examples_fold_away_and_the_problem_stays_in_view() -> None:
    from star.report.page import sample_html
    from star.report.page_data import Sample

    prompt = "Q: 1+1\nAnswer: 2\n\nQ: 2+2\nAnswer: 4\n\nQ: 3+4\n"
    sample = Sample(round=1, category="right", attempt_id=9, problem="p", question="3+4", gold="7",
                    kind="direct", prompt=prompt, completion="Answer: 7", extracted="7", status="correct")
    markup = sample_html(sample)
    folded, shown = markup.split("</details>")
    assert "few-shot prompt (5 lines)" in folded and "Q: 2+2" in folded and "Q: 3+4" not in folded
    assert '<span class="prompt">Q: 3+4\n</span><span class="completion">Answer: 7</span>' in shown
    plain = sample_html(Sample(**{**sample.__dict__, "prompt": "Q: 3+4\n"}))
    assert "<details>" not in plain and "Q: 3+4" in plain
