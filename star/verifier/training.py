"""Training a verifier with TRL's DPOTrainer on (prompt, chosen, rejected) pairs.

Why DPO and not a reward model (TRL's RewardTrainer):

- **What V-STaR did.** Hosseini et al. (2024) train the verifier with DPO on
  the correct and incorrect solutions STaR generates, and found it better than
  an outcome reward model trained on the same data. The verifier's score of a
  rationale y for prompt x is DPO's implicit reward,
  beta * (log pi(y|x) - log pi_ref(y|x)).
- **Little data, tiny models.** DPO starts from the policy's own language-model
  head, so a wrong digit after `=` is penalised at the token where it happens;
  a reward model must learn from a new, randomly initialised scalar head to
  read a whole scratchpad from its last token, which takes far more pairs than
  a run's failures offer.
- **CPU cost.** Training: one policy forward/backward and one reference forward
  on chosen + rejected per pair, about 1.5x a RewardTrainer step on the same
  model. Scoring: two forwards per rationale (the verifier and the reference),
  against one for a reward model; both are a fraction of what generating the N
  samples cost, and batched.

The saved verifier is a folder holding the fine-tuned model and tokenizer, the
reference model (`reference/`), and `verifier.json` (method, beta, max length),
so `star.verifier.VerifierScorer(path)` needs nothing else.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: what `verifier.json` says; a scorer refuses other formats
FORMAT = 1
REFERENCE_DIR = "reference"
MANIFEST = "verifier.json"


@dataclass(frozen=True)
class DpoSettings:
    """The DPO recipe (docs/verifier.md). The default learning rate is meant for the tiny model;
    pretrained models usually take a lower one (the SmolLM2-135M test uses 1e-5)."""

    steps: int = 60
    batch_size: int = 8
    learning_rate: float = 1e-4
    beta: float = 0.1
    seed: int = 0
    max_length: int = 1024


@dataclass(frozen=True)
class VerifierSpec:
    """One verifier training job."""

    init_model: str
    output_dir: str
    #: TRL preference rows: {"prompt", "chosen", "rejected"}; a prompt may be chat messages
    pairs: list[dict[str, Any]]
    settings: DpoSettings = DpoSettings()


@dataclass(frozen=True)
class VerifierResult:
    output_dir: str
    steps: int
    pairs: int
    #: the last logged DPO metrics (loss, rewards/accuracies, rewards/margins) on the training pairs
    metrics: dict[str, float]


def train_verifier(spec: VerifierSpec, *, progress: bool = True) -> VerifierResult:
    """DPO-train a copy of `spec.init_model` on `spec.pairs`; writes the verifier folder.

    Written to a `.partial` sibling and renamed at the end, like a round's
    checkpoint, so an interrupted training leaves no folder that looks finished.
    """
    from star.training.checkpoint import replace_dir

    final_dir = Path(spec.output_dir)
    tmp_dir = final_dir.with_name(final_dir.name + ".partial")
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    trainer = _build_trainer(spec, tmp_dir, progress=progress)
    output = trainer.train()
    trainer.model.save_pretrained(str(tmp_dir), safe_serialization=True)
    trainer.processing_class.save_pretrained(str(tmp_dir))
    reference = trainer.accelerator.unwrap_model(trainer.ref_model)
    reference.save_pretrained(str(tmp_dir / REFERENCE_DIR), safe_serialization=True)
    manifest = {"format": FORMAT, "method": "dpo", "beta": spec.settings.beta, "max_length": spec.settings.max_length,
                "reference": REFERENCE_DIR, "init_model": spec.init_model}
    (tmp_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    replace_dir(tmp_dir, final_dir)
    return VerifierResult(output_dir=str(final_dir), steps=int(output.global_step), pairs=len(spec.pairs),
                          metrics=_last_metrics(trainer.state.log_history))


def _build_trainer(spec: VerifierSpec, output_dir: Path, *, progress: bool):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from star.training.prompts import render_prompt
    from star.training.sft import load_for_training, local_run_args, quiet

    if not spec.pairs:
        raise ValueError("no preference pairs to train the verifier on")
    tokenizer, model = load_for_training(spec.init_model, progress=progress)
    hp = spec.settings
    args = DPOConfig(
        output_dir=str(output_dir),
        max_steps=hp.steps,
        per_device_train_batch_size=hp.batch_size,
        learning_rate=hp.learning_rate,
        lr_scheduler_type="linear",
        beta=hp.beta,
        seed=hp.seed,
        max_length=hp.max_length,
        **local_run_args(bf16=False, max_steps=hp.steps, progress=progress),
    )
    # Chat-message prompts become the text the policy was sent (as SFT rows do), so the verifier
    # learns on the tokens the rationales were generated from and scores them the same way.
    rows = [{**pair, "prompt": render_prompt(pair["prompt"], tokenizer)} for pair in spec.pairs]
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    if not progress:
        quiet(trainer)
    return trainer


def _last_metrics(history: list[dict[str, Any]]) -> dict[str, float]:
    """The last logged training loss and reward statistics (TRL logs them every logging_steps)."""
    wanted = ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")
    found: dict[str, float] = {}
    for entry in history:
        found.update({key: float(entry[key]) for key in wanted if key in entry})
    return found
