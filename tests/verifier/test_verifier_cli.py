"""`star verifier train / list` end to end on a real SQLite store, and the user errors it stops on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from db.engine import open_store, session_factory
from db.store import get_model, get_run
from star.cli import cli, register_commands
from star.errors import StarError
from star.verifier import VerifierScorer

register_commands()


def star(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _arithmetic_rounds(arithmetic_pairs: Any, stored: Any, problems: int) -> dict[int, list[Any]]:
    """Round 1: one right and one wrong scratchpad per problem; round 2: the same wrong ones again (one pair each)."""
    rows = [(f"{r['operands'][0]}+{r['operands'][1]}", r) for r in arithmetic_pairs(3, problems)]
    round_1 = [stored(name, "direct", r["chosen"]) for name, r in rows]
    round_1 += [stored(name, "direct", r["rejected"], "incorrect") for name, r in rows]
    return {1: round_1, 2: [stored(name, "direct", r["rejected"], "incorrect") for name, r in rows]}


@pytest.mark.slow
def test_train_records_a_verifier_with_its_lineage(tmp_path: Path, tiny_model: Path, one_thread: None,
                                                   store_run: Any, stored: Any, arithmetic_pairs: Any) -> None:
    checkpoint = tmp_path / "runs" / "demo" / "round_2"
    shutil.copytree(tiny_model, checkpoint)
    url = f"sqlite:///{tmp_path}/star.db"
    store_run(url, "demo", _arithmetic_rounds(arithmetic_pairs, stored, 12), done=(0, 1, 2),
              checkpoint=str(checkpoint))

    result = star("verifier", "train", "demo", "--steps", "6", "--batch-size", "4", "--holdout", "0.25",
                  "--db", url, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    out = tmp_path / "runs" / "demo" / "verifier_round_2"  # default: next to the round's checkpoint
    assert (record["kind"], record["round"], record["path"], record["init"], record["steps"]) == (
        "verifier", 2, str(out), str(checkpoint), 6)
    metrics = record["metrics"]
    # 12 problems, one pair each (round 2 repeats round 1's wrong rationales); a quarter of them held out
    assert (record["pairs"], metrics["held_out_pairs"]) == (9, 3)
    assert metrics["method"] == "dpo" and metrics["rounds"] == [1, 2]
    assert 0.0 <= metrics["held_out_accuracy"] <= 1.0
    assert {"loss", "rewards/accuracies", "rewards/margins"} <= metrics["train"].keys()
    assert metrics["options"]["steps"] == 6 and metrics["options"]["pairs_per_problem"] == 4
    assert {"verifier.json", "config.json", "reference"} <= {p.name for p in out.iterdir()}
    assert not out.with_name(out.name + ".partial").exists()

    # The store: a verifier row with lineage; the round's checkpoint is still the policy.
    engine = open_store(url)
    try:
        with session_factory(engine)() as session:
            run = get_run(session, "demo")
            assert get_model(session, run, 2).path == str(checkpoint)
    finally:
        engine.dispose()
    listed = star("verifier", "list", "demo", "--db", url, "--json")
    assert [(r["id"], r["path"], r["round"], r["init"], r["base"]) for r in json.loads(listed.stdout)] == [
        (record["id"], str(out), 2, str(checkpoint), "tiny")]
    table = star("verifier", "list", "demo", "--db", url).stdout
    assert "held-out acc" in table and f"│ {record['id']} " in table  # the path column may be folded

    # It scores, deterministically, whatever the order and batch size.
    scorer = VerifierScorer(str(out))
    rows = arithmetic_pairs(99, 4)
    prompts, texts = [r["prompt"] for r in rows] * 2, [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    scores = scorer.score(prompts, texts)
    assert len(scores) == 8 and len(set(scores)) > 1
    assert all(0.0 <= s <= 1.0 for s in scores)  # weighted best-of-N sums them as weights
    assert VerifierScorer(str(out), batch_size=3).score(prompts[::-1], texts[::-1]) == pytest.approx(scores[::-1])

    # Training again into the same folder is refused before any work.
    again = star("verifier", "train", "demo", "--db", url)
    assert again.exit_code == 2 and "already exists; remove it or choose another --out" in again.stderr


@pytest.fixture
def small_store(tmp_path: Path, store_run: Any, stored: Any) -> str:
    """Round 1 done with one pairable problem; round 2 still running; round 1's checkpoint is missing."""
    url = f"sqlite:///{tmp_path}/star.db"
    rounds = {1: [stored("p0", "direct", "right"), stored("p0", "direct", "wrong", "incorrect"),
                  stored("p1", "direct", "right")],
              2: []}
    store_run(url, "demo", rounds, done=(0, 1), checkpoint=str(tmp_path / "gone"))
    store_run(url, "fresh", {0: [stored("e0", "eval", "x")]}, done=())
    store_run(url, "all-right", {1: [stored("p0", "direct", "right")]}, done=(1,))
    return url


@pytest.mark.parametrize(("args", "message"), [
    (["nope"], "no run named 'nope'; `star runs` lists them"),
    (["fresh"], "run 'fresh' has no finished round yet; finish one"),
    (["demo", "--round", "0"], "--round must be 1 or more"),
    (["demo", "--round", "7"], "run 'demo' has no round 7; `star rounds demo` lists them"),
    (["all-right"], "run 'all-right' has no usable pairs in rounds 1-1: of its 1 training attempts, no problem "
                    "has both an accepted and an incorrect rationale; run more rounds"),
    (["demo"], "which is not a model folder (no config.json); pass --init PATH"),
    (["demo", "--steps", "0"], "Invalid value for '--steps'"),
])
def test_user_errors_exit_2(small_store: str, args: list[str], message: str) -> None:
    result = star("verifier", "train", *args, "--db", small_store)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_missing_store_and_an_existing_out_exit_2(tmp_path: Path, small_store: str, tiny_model: Path) -> None:
    missing = star("verifier", "train", "demo", "--db", f"sqlite:///{tmp_path}/typo.db")
    assert missing.exit_code == 2 and "no database at" in missing.stderr
    (tmp_path / "taken").mkdir()
    taken = star("verifier", "train", "demo", "--init", str(tiny_model), "--out", str(tmp_path / "taken"),
                 "--db", small_store)
    assert taken.exit_code == 2 and "taken already exists; remove it or choose another --out" in taken.stderr
    empty = star("verifier", "list", "demo", "--db", small_store)
    assert empty.exit_code == 0 and "run 'demo' has no verifiers; `star verifier train demo` trains one" in empty.stdout


def test_scorer_refuses_a_folder_that_is_not_a_verifier(tiny_model: Path) -> None:
    with pytest.raises(StarError, match="is not a verifier folder .*`star verifier train RUN`"):
        VerifierScorer(str(tiny_model))
