"""Step schedule and the choice of training examples."""

from __future__ import annotations

import pytest

from star.loop.acceptance import is_accepted
from star.loop.selection import Triplet, as_sft_rows, select_examples, steps_for_round


def test_paper_step_schedule_grows_twenty_percent_per_round() -> None:
    assert [steps_for_round(r) for r in (1, 2, 3, 4)] == [40, 48, 58, 70]
    assert steps_for_round(3, base_steps=100, growth=1.0) == 100
    with pytest.raises(ValueError):
        steps_for_round(0)


def _t(pid: int, text: str, rationalized: bool = False, path: str | None = None) -> Triplet:
    return Triplet(pid, f"Q{pid}", text, rationalized, path)


def test_text_dedup_drops_identical_rationales_of_one_problem_only() -> None:
    triplets = [_t(1, "a"), _t(1, "a "), _t(1, "b"), _t(2, "a")]
    kept = select_examples(triplets, dedup="text", max_per_problem=None)
    assert [(t.problem_id, t.completion) for t in kept] == [(1, "a"), (1, "b"), (2, "a")]
    assert len(select_examples(triplets, dedup="none", max_per_problem=None)) == 4


def test_path_dedup_keeps_one_rationale_per_reasoning_path() -> None:
    triplets = [_t(1, "So 3+4=7.", path="k1"), _t(1, "We get 3 + 4 = 7", path="k1"), _t(1, "2+5=7", path="k2"),
                _t(2, "So 3+4=7.", path="k1"), _t(3, "old row", path=None), _t(3, "old row ", path=None)]
    kept = select_examples(triplets, dedup="path", max_per_problem=None)
    assert [(t.problem_id, t.completion) for t in kept] == [(1, "So 3+4=7."), (1, "2+5=7"), (2, "So 3+4=7."),
                                                          (3, "old row")]
    assert len(select_examples(triplets, dedup="text", max_per_problem=None)) == 5


def test_old_boolean_dedup_means_text_or_none() -> None:
    from star.config.run import TrainingConfig

    assert TrainingConfig(dedup=True).dedup == "text"
    assert TrainingConfig(dedup=False).dedup == "none"
    assert TrainingConfig().dedup == "path"


def test_cap_prefers_direct_over_rationalized() -> None:
    triplets = [_t(1, "r", rationalized=True), _t(1, "d1"), _t(1, "d2")]
    kept = select_examples(triplets, dedup="path", max_per_problem=2)
    assert [t.completion for t in kept] == ["d1", "d2"]
    assert as_sft_rows(kept)[0] == {"prompt": "Q1", "completion": "d1"}


def test_acceptance_modes() -> None:
    assert is_accepted(True, False, "answer")
    assert not is_accepted(True, False, "answer_and_steps")
    assert is_accepted(True, True, "answer_and_steps")
    assert not is_accepted(False, True, "answer")
    with pytest.raises(ValueError):
        is_accepted(True, True, "nope")
