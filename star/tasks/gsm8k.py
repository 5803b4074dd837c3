"""GSM8K (Cobbe et al. 2021): grade-school math word problems.

Each row is `{"question", "answer"}` where the answer is a worked solution with
`<<48/2=24>>` calculator annotations, ending in `#### <gold>`. The few-shot
examples are train-split solutions with the annotations stripped (a model
should not learn to write them) and the `####` line replaced by the sentence
the checker reads, "The answer is 72.", in the STaR paper's prompt style:

    Q: Natalia sold clips to 48 of her friends in April, ...
    A: Natalia sold 48/2 = 24 clips in May.
    Natalia sold 48+24 = 72 clips altogether in April and May.
    The answer is 72.
"""

from __future__ import annotations

from star.tasks.base import Problem, content_hash
from star.tasks.dataset import DatasetTask
from star.tasks.loading import Row
from star.tasks.parsing import Example, after_hashes, before_hashes, require_parsable_gold, text_field


def answer_sentence(gold: str) -> str:
    """The last line of every GSM8K few-shot rationale."""
    return f"The answer is {gold}."


class GSM8KTask(DatasetTask):
    """GSM8K from local jsonl files or the hub (`openai/gsm8k`, config `main`)."""

    default_dataset = "gsm8k"
    answer_type = "number"
    prompt_file = "qa_prompt.txt"
    hint_file = "qa_hint.txt"

    def parse_row(self, row: Row) -> Example:
        question = text_field(row, "question")
        solution = text_field(row, "answer")
        gold = after_hashes(solution, "answer")
        require_parsable_gold(gold, "answer")
        steps = before_hashes(solution)
        rationale = f"{steps}\n{answer_sentence(gold)}" if steps else answer_sentence(gold)
        key = content_hash(question)
        return Example(Problem(uid=key, question=question, gold=gold), key, row.where(), rationale)
