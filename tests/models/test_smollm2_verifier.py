"""The verifier's DPO training and scoring on a real HF Llama (SmolLM2-135M, BPE tokenizer)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from star.tasks.arithmetic import render_prompt, render_rationale
from star.verifier import VerifierScorer
from star.verifier.training import DpoSettings, VerifierSpec, train_verifier

OPERANDS = ((12, 34), (47, 25), (8, 9), (63, 58))


def _wrong(a: int, b: int) -> str:
    """The right scratchpad with a wrong answer line (off by ten)."""
    right = render_rationale(a, b)
    return right.replace(f"Answer: {a + b}", f"Answer: {a + b + 10}")


@pytest.mark.slow
def test_verifier_trains_and_scores_on_smollm2(tmp_path: Path, smollm2_model: Path) -> None:
    rows = [{"prompt": render_prompt(a, b), "chosen": render_rationale(a, b), "rejected": _wrong(a, b)}
            for a, b in OPERANDS]
    spec = VerifierSpec(init_model=str(smollm2_model), output_dir=str(tmp_path / "verifier"), pairs=rows,
                        settings=DpoSettings(steps=3, batch_size=2, learning_rate=1e-5, max_length=96))
    result = train_verifier(spec, progress=False)
    assert result.steps == 3 and (tmp_path / "verifier" / "reference" / "config.json").exists()

    scorer = VerifierScorer(result.output_dir, batch_size=4)
    prompts = [r["prompt"] for r in rows] * 2
    texts = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    scores = scorer.score(prompts, texts)
    assert len(scores) == 8 and all(math.isfinite(s) for s in scores)
    assert any(abs(s) > 1e-4 for s in scores)  # training moved the model away from its reference
    # Three steps on these pairs already prefer the right answer line on them.
    margins = [c - r for c, r in zip(scores[:4], scores[4:])]
    assert sum(margins) > 0, margins
    assert scorer.score(prompts[::-1], texts[::-1]) == pytest.approx(scores[::-1])
