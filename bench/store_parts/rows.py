"""The rows bench/store.py stores: a STaR run's rounds with realistic text and outcomes.

Per round, 10,000 training problems get 10 direct samples each; a problem with no
accepted sample gets one rationalized attempt (half of them accepted); 1,000
held-out problems get a greedy answer (round 0 has only those). Problems have a
difficulty and the model a skill that grows per round, so problems flip between
rounds as they do in a real run. Completions are 1,000-2,000 characters drawn
from a 5,000-word Zipf vocabulary (what an inverted index sees in real text);
about a third mention the common word `carry`, and one attempt in 100,000 the
rare word `quokka`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from db.store import AttemptRow

SAMPLES = 10  # direct samples per training problem per round
PROBLEMS = 10_000
EVAL_PROBLEMS = 1_000
COMMON_WORD, RARE_WORD = "carry", "quokka"
RARE_EVERY = 100_000
_VOCABULARY = 5_000


class Corpus:
    """Pools of pseudo-text, so generating rows costs little next to storing them."""

    def __init__(self, seed: int = 0) -> None:
        rng = random.Random(seed)
        words = [self._word(rng) for _ in range(_VOCABULARY)]
        self.words = words
        self.weights = [1.0 / (rank + 1) for rank in range(_VOCABULARY)]
        self.questions = [self._text(rng, rng.randint(150, 400)) + "?" for _ in range(2_000)]
        self.completions = [self._completion(rng, n) for n in range(5_000)]

    @staticmethod
    def _word(rng: random.Random) -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))

    def _text(self, rng: random.Random, size: int) -> str:
        out: list[str] = []
        length = 0
        while length < size:
            batch = rng.choices(self.words, self.weights, k=32)
            for word in batch:
                token = word if rng.random() > 0.15 else str(rng.randint(0, 999))  # numbers, as in rationales
                out.append(token)
                length += len(token) + 1
        return " ".join(out)[:size].rsplit(" ", 1)[0]

    def _completion(self, rng: random.Random, n: int) -> str:
        text = self._text(rng, rng.randint(1_000, 2_000))
        if n % 3 == 0:  # a third of the pool mentions the common word somewhere
            cut = rng.randint(0, len(text))
            text = f"{text[:cut]} {COMMON_WORD} {text[cut:]}"
        return text


class RunShape:
    """Which problem is solved when: difficulty per problem, skill per round."""

    def __init__(self, seed: int = 0) -> None:
        rng = random.Random(seed)
        self.difficulty = [rng.random() for _ in range(PROBLEMS + EVAL_PROBLEMS)]

    def p_right(self, problem: int, round_index: int) -> float:
        skill = min(0.9, 0.25 + 0.04 * round_index)
        return max(0.02, min(0.95, 0.5 + 1.5 * (skill - self.difficulty[problem])))


def round_rows(corpus: Corpus, shape: RunShape, round_index: int, round_id: int, train: list[int],
               held_out: list[int], *, first_rare: int) -> Iterator[AttemptRow]:
    """Every attempt of one round, in the order the loop stores them (direct, rationalized, eval)."""
    rng = random.Random(round_id * 7919)
    counter = first_rare

    def completion(prefix: str) -> str:
        nonlocal counter
        counter += 1
        rare = f" {RARE_WORD}" if counter % RARE_EVERY == 0 else ""
        return f"{prefix}: {rng.choice(corpus.completions)}{rare}"

    for n, pid in enumerate(train if round_index else []):
        prompt = f"Question: {corpus.questions[n % len(corpus.questions)]}\nAnswer:"
        p = shape.p_right(n, round_index)
        solved = False
        for k in range(SAMPLES):
            ok = rng.random() < p
            solved |= ok
            yield _row(round_id, pid, "direct", k, prompt, prompt, completion(f"Attempt {round_id}.{pid}.{k}"), ok, ok)
        if not solved:
            ok = rng.random() < 0.5
            hinted = prompt.replace("\nAnswer:", " (hint: the answer is 48)\nAnswer:")
            yield _row(round_id, pid, "rationalized", 0, hinted, prompt, completion(f"Hinted {round_id}.{pid}"), ok, ok)
    for n, pid in enumerate(held_out):
        prompt = f"Question: {corpus.questions[(PROBLEMS + n) % len(corpus.questions)]}\nAnswer:"
        ok = rng.random() < shape.p_right(PROBLEMS + n, round_index)
        yield _row(round_id, pid, "eval", 0, prompt, prompt, completion(f"Greedy {round_id}.{pid}"), ok, False)


def _row(round_id: int, pid: int, kind: str, k: int, prompt: str, train_prompt: str, text: str, ok: bool,
         accepted: bool) -> AttemptRow:
    return AttemptRow(round_id, pid, kind, k, prompt, train_prompt, text, "48" if ok else "12",
                      "correct" if ok else "incorrect", ok, accepted, None, 60, len(text) // 4, "bench")


def round_size(round_index: int) -> int:
    """About how many attempts a round stores (rationalized attempts vary)."""
    return EVAL_PROBLEMS + (PROBLEMS * SAMPLES + PROBLEMS // 4 if round_index else 0)
