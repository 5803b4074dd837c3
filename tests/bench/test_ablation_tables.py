"""bench/ablation.py's tables: STaR's gain beside its gain over the no-STaR-data control, per build."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from ablation import star_against_controls, summary_rows


def _rows(*accuracies: float) -> list[dict]:
    return [{"round": r, "accuracy": a, **dict.fromkeys(range(1, 6), a)} for r, a in enumerate(accuracies)]


RESULTS = {
    "star": {0: _rows(0.30, 0.50, 0.70), 1: _rows(0.40, 0.55, 0.60)},
    "no-star-data": {0: _rows(0.30, 0.45, 0.50), 1: _rows(0.40, 0.50, 0.55)},
    "direct-answers": {0: _rows(0.30, 0.40, 0.45), 1: _rows(0.40, 0.45, 0.45)},
}


def test_rows_give_each_arms_mean_and_range_per_round() -> None:
    rows = summary_rows(RESULTS)
    assert rows[0] == ["star", "35.0 (30.0–40.0)", "52.5 (50.0–55.0)", "65.0 (60.0–70.0)"]
    assert [row[0] for row in rows] == ["star", "no-star-data", "direct-answers"]


def test_the_gain_that_is_stars_and_the_margin_on_every_build() -> None:
    lines = star_against_controls(RESULTS, margin=10.0)
    assert lines[0] == "STaR's raw gain, round 0 -> 2: 30.0 (20.0–40.0) points"
    assert lines[1] == "STaR minus no-STaR-data at the last round (the gain that is STaR's): 12.5 (5.0–20.0) points"
    assert "seed 0: +20.0, seed 1: +5.0 -> does NOT beat it by >= 10 points" in lines[2]
    assert "STaR over direct-answers" in lines[3] and "beats it by >= 10 points on every build" in lines[3]
