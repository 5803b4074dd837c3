"""Scoring rationales with a trained verifier (see star/verifier/training.py).

    from star.verifier import VerifierScorer
    scores = VerifierScorer(path).score(prompts, completions)  # higher = more likely correct

The score is sigmoid(r), r = beta * (log pi(y|x) - log pi_ref(y|x)) being DPO's
implicit reward summed over the completion's tokens and the end-of-sequence
token. The sigmoid keeps the order of r (best-of-N is unchanged) and makes the
score a positive weight in (0, 1), which weighted best-of-N sums per answer;
DPO's own Bradley-Terry model reads it as the odds against a zero-reward
rationale. Tokenized
the way TRL's DPOTrainer tokenized the training pairs (prompt, then prompt +
completion + EOS; the completion starts where the two diverge).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from star.errors import StarError


class VerifierScorer:
    """A verifier folder loaded for scoring: eval mode, no gradients, deterministic."""

    def __init__(self, path: str, *, batch_size: int = 8) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from star.verifier.training import FORMAT, MANIFEST

        folder = Path(path)
        manifest = _read_manifest(folder / MANIFEST, FORMAT)
        self.beta = float(manifest["beta"])
        self.max_length = int(manifest["max_length"]) if manifest.get("max_length") else None
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        # A verifier folder is a file the user hands us: safetensors only (never a pickled .bin),
        # and no model code from the folder (trust_remote_code stays off).
        load = {"dtype": torch.float32, "use_safetensors": True, "trust_remote_code": False}
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), **load).eval()
        self.reference = AutoModelForCausalLM.from_pretrained(str(folder / manifest["reference"]), **load).eval()
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.tokenizer.eos_token_id

    def score(self, prompts: Sequence[str | Sequence[dict[str, str]]], completions: Sequence[str]) -> list[float]:
        """One score per (prompt, completion); higher means more likely correct.

        A prompt is text, or chat messages (star.tasks.base.model_prompt) rendered with the
        verifier's chat template as the generation engine rendered them for the policy.
        """
        from star.training.prompts import render_prompt

        if len(prompts) != len(completions):
            raise ValueError(f"score: {len(prompts)} prompts but {len(completions)} completions")
        encoded = [self._encode(render_prompt(p, self.tokenizer), c) for p, c in zip(prompts, completions)]
        # Batches by length and content, not input order: an input always meets the same batch-mates
        # (and padding) whatever order the inputs come in, so its score never changes.
        order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i][0]), encoded[i]))
        scores = [0.0] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for index, value in zip(batch, self._score_batch([encoded[i] for i in batch])):
                scores[index] = value
        return scores

    def _encode(self, prompt: str, completion: str) -> tuple[list[int], int]:
        """(token ids, index of the first completion token), as DPOTrainer builds them."""
        eos = self.tokenizer.eos_token
        if not completion.endswith(eos):
            completion += eos
        prompt_ids = self.tokenizer(text=prompt)["input_ids"]
        full_ids = self.tokenizer(text=prompt + completion)["input_ids"]
        start = _common_prefix(prompt_ids, full_ids)
        if self.max_length is not None:
            full_ids = full_ids[: self.max_length]
        return full_ids, start

    def _score_batch(self, items: list[tuple[list[int], int]]) -> list[float]:
        import torch

        width = max(len(ids) for ids, _ in items)
        input_ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(items), width), dtype=torch.long)
        scored = torch.zeros((len(items), width), dtype=torch.bool)
        for row, (ids, start) in enumerate(items):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            scored[row, start : len(ids)] = True
        with torch.inference_mode():
            ratio = _token_logps(self.model, input_ids, attention) - _token_logps(self.reference, input_ids, attention)
        # Position t of the log-probs predicts token t+1.
        ratio = (ratio * scored[:, 1:]).sum(dim=1)
        return [_sigmoid(self.beta * float(value)) for value in ratio]


def _token_logps(model: Any, input_ids: Any, attention: Any) -> Any:
    """log p(token t+1 | tokens <= t) for every position of every row."""
    import torch

    logits = model(input_ids=input_ids, attention_mask=attention, use_cache=False).logits[:, :-1].float()
    # gather - logsumexp: no second (batch, length, vocab) tensor, which matters for 50k-token vocabularies
    picked = torch.gather(logits, 2, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return picked - logits.logsumexp(dim=-1)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _read_manifest(path: Path, expected_format: int) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise StarError(
            f"{path.parent} is not a verifier folder (no {path.name}); train one with `star verifier train RUN` "
            "and pass the path it prints (`star verifier list RUN` shows them)"
        ) from None
    except ValueError as exc:
        raise StarError(f"{path} is not valid JSON ({exc}); train the verifier again") from None
    if manifest.get("format") != expected_format or manifest.get("method") != "dpo":
        raise StarError(f"{path} describes a verifier this star cannot read ({manifest.get('format')!r}, "
                        f"{manifest.get('method')!r}); train it again with this version")
    return manifest


def _sigmoid(reward: float) -> float:
    """1 / (1 + e^-reward), without overflow for large |reward|."""
    if reward >= 0:
        return 1.0 / (1.0 + math.exp(-reward))
    odds = math.exp(reward)
    return odds / (1.0 + odds)
