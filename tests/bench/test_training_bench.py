"""bench/training.py compares like with like: star's trainer actor and plain TRL count the same
non-padding tokens, so a drift on either side (other examples, other truncation, padding counted)
fails here instead of silently moving the printed ratio."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real Ray actor and real TRL training, a few steps of the tiny model

BENCH = Path(__file__).resolve().parents[2] / "bench" / "training.py"


def _bench():
    """bench/ is scripts, not a package: load the file as a module (registered, for its dataclasses)."""
    spec = importlib.util.spec_from_file_location("star_bench_training", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_both_sides_train_on_the_same_non_padding_tokens(tiny_model: Path, ray_session: None,
                                                        tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    bench = _bench()
    # 8 examples, batch 8: each step is one pass over all of them, whatever order either side draws,
    # in micro-batches of 4 that pad; max_length 48 cuts the longer ones (about 60 characters).
    options = bench.BenchOptions(model=str(tiny_model), steps=2, batch_size=8, micro_batch_size=4, max_length=48,
                                 examples=8, repeats=1, warmup=False, match_niceness=False)
    runs = bench.compare(options, tmp_path)
    (star,), (trl,) = runs[bench.STAR], runs[bench.TRL]
    assert star.steps == trl.steps == 2
    assert star.tokens == trl.tokens, "the two sides did different work: the ratio would not compare them"
    # and the count is what the table says it is: non-padding tokens of the rows as cut at max_length
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows = bench.bench_examples()[:8]
    lengths = [len(tokenizer(r["prompt"] + r["completion"])["input_ids"]) + 1 for r in rows]  # + EOS
    assert max(lengths) > options.max_length, "some rows must be cut for the test to check truncation"
    assert star.tokens == 2 * sum(min(n, options.max_length) for n in lengths)
    for side in (star, trl):
        assert 0 < side.train_seconds < side.wall_seconds  # the loop is timed inside the end-to-end call


def test_both_sides_train_with_the_threads_a_round_uses(tiny_model: Path, ray_session: None, tmp_path: Path) -> None:
    """The actor's threads are read back after it trained, so a side that trains on more cores than the
    other shows in the table. A round's CPU trainer uses every core (`with_cpu_threads`); the bench once
    gave TRL the 1 thread Ray starts the actor with, and star looked 1.5x faster than TRL on 2 cores."""
    import os

    bench = _bench()
    options = bench.BenchOptions(model=str(tiny_model), steps=1, batch_size=4, max_length=48, examples=4,
                                 repeats=1, warmup=False, match_niceness=False)
    runs = bench.compare(options, tmp_path)
    (star,), (trl,) = runs[bench.STAR], runs[bench.TRL]
    assert star.threads == trl.threads == len(os.sched_getaffinity(0))
