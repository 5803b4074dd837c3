"""A verifier trained on the store's rationales (V-STaR, Hosseini et al. 2024).

STaR keeps every attempt, right or wrong; `star verifier train RUN` turns a
run's correct and incorrect rationales for the same problem into preference
pairs (star/verifier/pairs.py), trains a verifier on them with TRL's
DPOTrainer (star/verifier/training.py says why DPO), and records it in the
store as a `models` row of kind "verifier" (star/verifier/service.py).
At evaluation time the verifier ranks sampled rationales:

    from star.verifier import VerifierScorer
    VerifierScorer(path).score(prompts, completions) -> list[float]  # higher = more likely correct

Importing this package is cheap; torch and transformers load when a scorer is built.
"""

from star.verifier.scorer import VerifierScorer

__all__ = ["VerifierScorer"]
