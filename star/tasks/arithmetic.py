"""The STaR paper's arithmetic task: addition of two n-digit numbers.

The rationale is a scratchpad that works from the last digit to the first. Each
line depends only on the line before it, which is what lets a tiny model extend
to longer numbers than it was seeded on:

    Q: 4821+397
    482+39 1+7=8 >8
    48+3 2+9=11 >18
    4+ 8+3+1=12 >218
    + 4+0+1=5 >5218
    Answer: 5218

A line holds the operands still to add (each loses its last digit), the digit
sum of this column (`+1` when a carry comes in) and the answer digits so far.
The hint for rationalization is appended to the question line and removed
again, exactly, for the stored training prompt.

For a pretrained model (`task.shots > 0`) the prompt starts with worked
examples in the same format, each followed by a blank line, as in the paper's
few-shot prompt; the hint is given for the asked question only, and the blank
line that would start another example is a stop string.
"""

from __future__ import annotations

import itertools
import random
import re
from fractions import Fraction

from star.config.tasks import ArithmeticTaskConfig
from star.errors import ConfigError
from star.tasks.base import Problem, Task

DATASET = "arithmetic"
HINT_PREFIX = " (hint: "
HINT_SUFFIX = ")"
_ANSWER_RE = re.compile(r"^Answer: (\d+)$")
_OPERATOR_SPACES = re.compile(r"\s*([+=>])\s*")
_SUM_STEP_RE = re.compile(r"\d\s*\+\s*\d+(?:\s*\+\s*1)?\s*=\s*\d")
#: where a few-shot completion ends: the blank line (or the next question) after "Answer: N"
SHOT_STOP = ("\n\n", "\nQ:")


def question_text(a: int, b: int) -> str:
    return f"{a}+{b}"


def render_prompt(a: int, b: int) -> str:
    return f"Q: {question_text(a, b)}\n"


def render_hinted_prompt(a: int, b: int) -> str:
    return f"Q: {question_text(a, b)}{HINT_PREFIX}{a + b}{HINT_SUFFIX}\n"


def scratchpad_lines(a: int, b: int) -> list[str]:
    """The exact scratchpad lines for a+b (without the final answer line)."""
    rest_a, rest_b = str(a), str(b)
    carry, partial, lines = 0, "", []
    while rest_a or rest_b or carry:
        da = int(rest_a[-1]) if rest_a else 0
        db = int(rest_b[-1]) if rest_b else 0
        rest_a, rest_b = rest_a[:-1], rest_b[:-1]
        total = da + db + carry
        carry_text = "+1" if carry else ""
        partial = str(total % 10) + partial
        lines.append(f"{rest_a}+{rest_b} {da}+{db}{carry_text}={total} >{partial}")
        carry = total // 10
    return lines


def render_rationale(a: int, b: int) -> str:
    """The full correct completion: scratchpad, then the answer line."""
    return "\n".join(scratchpad_lines(a, b) + [f"Answer: {a + b}"]) + "\n"


def parse_operands(question: str) -> tuple[int, int]:
    left, _, right = question.partition("+")
    return int(left), int(right)


def scratchpad_is_exact(question: str, completion: str) -> bool:
    """True when every scratchpad line and the answer line are exactly right.

    The expected lines are recomputed with integer arithmetic from the
    question, never from the model's text, so nothing in the completion is
    evaluated.
    """
    a, b = parse_operands(question)
    expected = scratchpad_lines(a, b) + [f"Answer: {a + b}"]
    got = [line for line in completion.strip().split("\n")]
    return got == expected


def scratchpad_work_refusal(question: str, completion: str) -> str | None:
    """The work rule for the scratchpad (star/checker/work.py): at least one line that adds a column of
    the sum right (`1+7=8`, `8+3+1=12`, spaces aside; NO_WORK otherwise), and the sum not written before
    the line that adds the last column (ANSWER_FIRST), which must be there with its running answer, if it
    writes one, equal to the sum (NOT_COMPUTED)."""
    from star.checker.work import ANSWER_FIRST, NO_WORK, NOT_COMPUTED, mentions

    a, b = parse_operands(question)
    columns = [re.compile(rf"(?<!\d){re.escape(step)}(?!\d)") for step in column_sums(a, b)]
    lines = completion.split("\n")
    starts = [0, *itertools.accumulate(len(line) + 1 for line in lines[:-1])]
    tight = [_OPERATOR_SPACES.sub(r"\1", line) for line in lines]  # "7+ 0= 0" -> "7+0=0"
    right = [i for i, line in enumerate(tight)
             if not line.startswith("Answer:") and any(column.search(line) for column in columns)]
    if not right:
        return NO_WORK
    # the line adding the last column completes the sum, unless its running answer says another one; so
    # does a right line whose running answer is the sum ("3+7 = 10 >10", the carry in the same line)
    total = str(a + b)
    completing = [starts[i] for i in right if _running_answer(tight[i]) == total
                  or (columns[-1].search(tight[i]) and _running_answer(tight[i]) is None)]
    if not completing:
        return NOT_COMPUTED
    first_mention = min(mentions(completion, Fraction(a + b)), default=None)
    if first_mention is not None and first_mention < completing[0]:
        return ANSWER_FIRST
    return None


def column_sums(a: int, b: int) -> list[str]:
    """Each column's addition as the scratchpad writes it, spaces removed: "1+7=8", "8+3+1=12", "+1=1"."""
    return [line.split(" ")[1].partition(">")[0] if " " in line else line for line in scratchpad_lines(a, b)]


def _running_answer(line: str) -> str | None:
    """The answer digits a scratchpad line ends with (`>218`), None if it has none."""
    found = re.findall(r">(\d+)", line)
    return found[-1] if found else None


def _spaceless(line: str) -> str:
    return re.sub(r"\s", "", line)


def scratchpad_path(completion: str) -> str:
    """The scratchpad lines before the answer line, whitespace removed: the arithmetic reasoning path."""
    lines = [line for line in completion.split("\n") if line.strip()]
    work = [_spaceless(line) for line in lines if not line.startswith("Answer:")]
    return "\n".join(work)


def sample_operand(rng: random.Random, digits: int) -> int:
    if digits == 1:
        return rng.randrange(0, 10)
    return rng.randrange(10 ** (digits - 1), 10**digits)


def _problem(a: int, b: int, digits: int) -> Problem:
    return Problem(
        uid=f"{a}+{b}", question=question_text(a, b), gold=str(a + b), metadata={"digits": digits}
    )


def make_splits(config: ArithmeticTaskConfig) -> tuple[list[Problem], list[Problem]]:
    """Seeded (train pool, held-out set); held-out is balanced by digit count.

    Held-out pairs are drawn first and excluded from the pool, so the two never
    overlap; for 1-digit sums (only 100 pairs exist) the pool gets what is left.
    """
    rng = random.Random(config.seed)
    train: list[Problem] = []
    held_out: list[Problem] = []
    for digits in range(config.min_digits, config.max_digits + 1):
        space = 100 if digits == 1 else (9 * 10 ** (digits - 1)) ** 2
        wanted = config.eval_per_digits + config.train_per_digits
        pairs = _distinct_pairs(rng, digits, min(wanted, space))
        n_eval = min(config.eval_per_digits, len(pairs) // 2)
        held_out += [_problem(a, b, digits) for a, b in pairs[:n_eval]]
        train += [_problem(a, b, digits) for a, b in pairs[n_eval:]]
    return train, held_out


def _distinct_pairs(rng: random.Random, digits: int, count: int) -> list[tuple[int, int]]:
    if digits == 1:
        pairs = [(a, b) for a in range(10) for b in range(10)]
        rng.shuffle(pairs)
        return pairs[:count]
    seen: dict[tuple[int, int], None] = {}
    while len(seen) < count:
        seen[(sample_operand(rng, digits), sample_operand(rng, digits))] = None
    return list(seen)


def draw_shots(config: ArithmeticTaskConfig, taken: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """`config.shots` operand pairs for the few-shot prompt, none of them in `taken`.

    Digit counts cycle from the largest down, so the examples show carries;
    a digit count whose pairs are all taken (1-digit sums: only 100) is skipped.
    """
    rng = random.Random(f"arithmetic-shots-{config.seed}")
    counts = list(range(config.max_digits, config.min_digits - 1, -1))
    shots: list[tuple[int, int]] = []
    used = set(taken)
    for index in range(config.shots * len(counts)):
        if len(shots) == config.shots:
            break
        pair = _free_pair(rng, counts[index % len(counts)], used)
        if pair is not None:
            shots.append(pair)
            used.add(pair)
    if len(shots) < config.shots:
        raise ConfigError(
            f"task.shots: only {len(shots)} of {config.shots} worked examples can be drawn outside the "
            "training and held-out problems; lower task.shots or task.train_per_digits, or raise task.max_digits"
        )
    return shots


def _free_pair(rng: random.Random, digits: int, used: set[tuple[int, int]]) -> tuple[int, int] | None:
    if digits == 1:
        free = [(a, b) for a in range(10) for b in range(10) if (a, b) not in used]
        return rng.choice(free) if free else None
    for _ in range(1000):
        pair = (sample_operand(rng, digits), sample_operand(rng, digits))
        if pair not in used:
            return pair
    return None


def render_shots(shots: list[tuple[int, int]]) -> str:
    """The few-shot preamble: each worked example, then a blank line."""
    return "".join(render_prompt(a, b) + render_rationale(a, b) + "\n" for a, b in shots)


class ArithmeticTask(Task):
    """n-digit addition with a carry scratchpad (Zelikman et al. 2022, section 4.1)."""

    dataset = DATASET
    stop = ()
    answer_type = "number"

    def __init__(self, config: ArithmeticTaskConfig) -> None:
        self.config = config
        self._train, self._eval = make_splits(config)
        taken = {parse_operands(p.question) for p in self._train + self._eval}
        self.shots = draw_shots(config, taken) if config.shots else []
        self._preamble = render_shots(self.shots)
        self.stop = SHOT_STOP if self.shots else ()

    def train_problems(self) -> list[Problem]:
        return list(self._train)

    def eval_problems(self) -> list[Problem]:
        return list(self._eval)

    def prompt(self, problem: Problem) -> str:
        return self._preamble + render_prompt(*parse_operands(problem.question))

    def hinted_prompt(self, problem: Problem) -> str:
        return self._preamble + render_hinted_prompt(*parse_operands(problem.question))

    def remove_hint(self, hinted_prompt: str, problem: Problem) -> str:
        hint = f"{HINT_PREFIX}{problem.gold}{HINT_SUFFIX}"
        # the hint is on the asked question, after every worked example
        head, found, tail = hinted_prompt.rpartition(hint)
        if not found:
            raise ValueError(f"hinted prompt of {problem.uid} does not contain its hint {hint!r}")
        return head + tail

    def eval_group(self, problem: Problem) -> str:
        return f"digits={problem.metadata['digits']}"

    def check_steps(self, completion: str, problem: Problem) -> bool:
        return scratchpad_is_exact(problem.question, completion)

    def work_refusal(self, completion: str, problem: Problem) -> str | None:
        return scratchpad_work_refusal(problem.question, completion)

    def has_steps(self, completion: str, problem: Problem) -> bool:
        """Any scratchpad-like sum (`1+7=8`, `4+0+1=5`), right or wrong, outside the answer line."""
        return any(_SUM_STEP_RE.search(line) for line in completion.split("\n") if not line.startswith("Answer:"))

    def answer_only(self, problem: Problem) -> str:
        return f"Answer: {problem.gold}\n"

    def reasoning_path(self, completion: str, problem: Problem) -> str:
        return scratchpad_path(completion)
