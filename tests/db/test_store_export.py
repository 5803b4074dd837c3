"""`star export`: JSONL, Parquet and HF datasets, SFT rows and DPO pairs, atomic output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from db.engine import open_store, session_factory
from db.errors import StoreError
from db.export import atomic
from star.cli import cli, register_commands

register_commands()


def star(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def export(store_url: str, out: Path, *args: str) -> Result:
    result = star("export", "demo", "--out", str(out), "--db", store_url, *args)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    """An empty directory for exports (tmp_path also holds the SQLite file)."""
    path = tmp_path / "exports"
    path.mkdir()
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_round_export_is_the_rounds_training_set(
    store_url: str, seeded: Any, outdir: Path
) -> None:
    out = outdir / "r1.jsonl"
    assert "wrote 4 rows" in export(store_url, out, "--round", "1", "--format", "jsonl").stdout
    rows = read_jsonl(out)
    assert [(r["problem"], r["rationalized"], r["round"]) for r in rows] == [
        ("p0", False, 1), ("p1", False, 1), ("p2", True, 1), ("p3", True, 1)]
    assert all(r["completion"].endswith("answer 4") for r in rows)
    # Rationalized rows were stored with a hinted prompt; the export must give the training prompt.
    assert [r["prompt"] for r in rows] == [f"Q{seeded.problems[f'p{i}']}: what is it?\nA:" for i in range(4)]
    assert {"prompt", "completion", "answer", "run", "dataset", "attempt_id"} <= rows[0].keys()
    assert sorted(p.name for p in outdir.iterdir()) == ["r1.jsonl"]  # no temporary files left


def test_parquet_run_export(store_url: str, seeded: Any, outdir: Path) -> None:
    out = outdir / "all.parquet"
    export(store_url, out, "--format", "parquet")
    table = pq.read_table(out)
    assert table.num_rows == 8 and table.column("round").to_pylist() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert table.schema.field("prompt").type == "string"


def test_export_json_reports_what_it_wrote(store_url: str, seeded: Any, outdir: Path) -> None:
    out = outdir / "round2.jsonl"
    result = CliRunner().invoke(cli, ["export", "demo", "--round", "2", "--format", "jsonl", "--out", str(out),
                                      "--db", store_url, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown == {"run": "demo", "round": 2, "format": "jsonl", "out": str(out.resolve()), "kind": "rows",
                     "count": len(out.read_text().splitlines())}


def test_pairs_prefer_correct_over_incorrect(store_url: str, seeded: Any, outdir: Path) -> None:
    out = outdir / "pairs.jsonl"
    result = export(store_url, out, "--round", "1", "--format", "jsonl", "--pairs")
    assert "wrote 6 pairs" in result.stdout
    pairs = read_jsonl(out)
    assert [p["problem"] for p in pairs] == ["p0", "p1", "p2", "p2", "p3", "p3"]
    assert all(p["chosen"].endswith("answer 4") and p["rejected"].endswith("answer 5") for p in pairs)
    # Rationalized chosen ones were stored with a hinted prompt; a pair carries the plain one.
    assert [p["prompt"] for p in pairs] == [f"Q{seeded.problems[p['problem']]}: what is it?\nA:" for p in pairs]
    assert len({p["rejected_id"] for p in pairs}) == 6  # each incorrect attempt used once
    everything = outdir / "pairs-all.jsonl"
    assert "wrote 10 pairs" in export(store_url, everything, "--format", "jsonl", "--pairs").stdout


def test_hf_dataset_round_trips_into_trl_formats(
    store_url: str, seeded: Any, outdir: Path
) -> None:
    import datasets
    from trl.data_utils import is_conversational, unpair_preference_dataset

    export(store_url, outdir / "sft", "--format", "hf")
    sft = datasets.load_from_disk(str(outdir / "sft"))
    assert sft.num_rows == 8 and {"prompt", "completion"} <= set(sft.column_names)
    assert not is_conversational(sft[0])  # TRL reads it as plain prompt-completion

    export(store_url, outdir / "dpo", "--format", "hf", "--pairs")
    dpo = datasets.load_from_disk(str(outdir / "dpo"))
    assert dpo.num_rows == 10 and {"prompt", "chosen", "rejected"} <= set(dpo.column_names)
    unpaired = unpair_preference_dataset(dpo.select_columns(["prompt", "chosen", "rejected"]))
    assert unpaired.num_rows == 20 and sum(unpaired["label"]) == 10


@pytest.mark.slow
def test_sft_trainer_trains_on_the_export(sqlite_url: str, seed_run: Any, outdir: Path) -> None:
    """The exported HF dataset goes straight into TRL's SFTTrainer and trains a step."""
    import datasets
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    from trl import SFTConfig, SFTTrainer

    engine = open_store(sqlite_url)
    seed_run(session_factory(engine))
    engine.dispose()
    export(sqlite_url, outdir / "sft", "--format", "hf")
    data = datasets.load_from_disk(str(outdir / "sft"))
    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(list(data["prompt"]) + list(data["completion"]),
                            trainers.WordLevelTrainer(special_tokens=["<unk>", "<pad>", "<eos>"]))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    config = GPT2Config(vocab_size=len(tok), n_layer=1, n_head=2, n_embd=16, n_positions=64,
                        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    model = GPT2LMHeadModel(config)
    args = SFTConfig(output_dir=str(outdir / "out"), max_steps=1, per_device_train_batch_size=4,
                     report_to=[], save_strategy="no", use_cpu=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    first = trainer.train_dataset[0]
    trained_on = [i for i, label in zip(first["input_ids"], first["labels"]) if label != -100]
    # Loss on the completion only: the prompt tokens are masked out.
    assert 0 < len(trained_on) < len(first["input_ids"])
    assert tok.decode(trained_on).startswith(tok.decode(tok(data[0]["completion"])["input_ids"]))
    assert trainer.train().global_step == 1


def test_export_errors_leave_nothing_behind(store_url: str, seeded: Any, outdir: Path) -> None:
    def fails(args: list[str], message: str) -> None:
        result = star("export", *args, "--db", store_url)
        assert result.exit_code == 2 and message in result.stderr, result.output

    existing = outdir / "taken.jsonl"
    existing.write_text("keep me")
    fails(["demo", "--format", "jsonl", "--out", str(existing)],
          "already exists; remove it or choose another --out")
    assert existing.read_text() == "keep me"
    fails(["demo", "--format", "csv", "--out", str(outdir / "x.csv")],
          "unknown export format 'csv'; use --format jsonl, parquet, hf")
    fails(["nope", "--format", "hf", "--out", str(outdir / "x")], "no run named 'nope'")
    fails(["demo", "--round", "7", "--format", "parquet", "--out", str(outdir / "x.parquet")],
          "has no round 7")
    fails(["demo", "--format", "jsonl", "--out", str(outdir / "no" / "x.jsonl")], "does not exist; create it")
    assert [p.name for p in outdir.iterdir()] == ["taken.jsonl"]


def test_interrupted_write_removes_the_temporary_output(tmp_path: Path) -> None:
    out = tmp_path / "data.jsonl"
    with pytest.raises(RuntimeError):
        with atomic(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-export")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="already exists"):
        with atomic(out) as tmp:
            tmp.write_text("late")
            out.write_text("someone else's")  # appears while we write: theirs is kept
    assert out.read_text() == "someone else's" and [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]
