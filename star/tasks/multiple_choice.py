"""Multiple-choice questions, CommonsenseQA-style: the STaR paper's main experiment.

Rows come in any of CommonsenseQA's shapes: the hub's flat
`{"question", "choices": {"label": [...], "text": [...]}, "answerKey"}`, the
original jsonl's `{"question": {"stem", "choices": [{"label", "text"}]}}`, or a
plain list of choice strings (labelled A, B, ...). Labels are kept as the
dataset writes them and the gold is the label, so a rationale ends in
"So the answer is (E)." which the checker reads. As in the original STaR code,
the hint marks the gold choice with " (CORRECT)":

    Q: What do people use to absorb extra ink from a fountain pen?
    Answer Choices:
    (A) shirt pocket
    ...
    (E) blotter (CORRECT)
    A:
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from star.config.tasks import MultipleChoiceTaskConfig
from star.tasks.base import Problem, content_hash
from star.tasks.dataset import HINT_SLOT, DatasetTask
from star.tasks.loading import Row
from star.tasks.parsing import Example, InvalidRow, optional_text, require_parsable_gold, text_field


@dataclass(frozen=True)
class Fields:
    """Which columns hold what (the built-in examples use the defaults)."""

    question: str = "question"
    choices: str = "choices"
    answer: str = "answerKey"
    id: str | None = "id"
    rationale: str = "rationale"


def parse_choices(value: Any, field: str) -> list[tuple[str, str]]:
    """(label, text) pairs from any of the supported shapes."""
    if isinstance(value, dict) and all(isinstance(value.get(k), list) for k in ("label", "text")):
        if len(value["label"]) != len(value["text"]):
            raise InvalidRow(field, "its 'label' and 'text' lists differ in length")
        pairs = list(zip(value["label"], value["text"]))
    elif isinstance(value, list) and all(isinstance(item, dict) for item in value):
        pairs = [(item.get("label"), item.get("text")) for item in value]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        pairs = [(chr(ord("A") + i), item) for i, item in enumerate(value)]
    else:
        raise InvalidRow(field, "missing, or not a {label, text} mapping or a list of choices")
    cleaned = [(str(label or "").strip(), str(text or "").strip()) for label, text in pairs]
    if len(cleaned) < 2:
        raise InvalidRow(field, f"needs at least 2 choices, got {len(cleaned)}")
    labels = [label for label, _ in cleaned]
    if not all(labels) or not all(text for _, text in cleaned):
        raise InvalidRow(field, "a choice has an empty label or text")
    if len(set(labels)) != len(labels):
        raise InvalidRow(field, f"repeated choice labels {labels}")
    return cleaned


class MultipleChoiceTask(DatasetTask):
    """Labelled-choice questions; gold is the label; the hint marks the gold choice."""

    default_dataset = "multiple_choice"
    prompt_file = "multiple_choice_prompt.txt"
    hint_file = "multiple_choice_hint.txt"
    prompt_placeholders = ("question", "choices")
    builtin_shots = "multiple_choice_shots.json"

    def __init__(self, config: MultipleChoiceTaskConfig, *, skip_invalid: bool = False) -> None:
        self.fields = Fields(
            question=config.question_field,
            choices=config.choices_field,
            answer=config.answer_field,
            id=config.id_field,
            rationale=config.rationale_field,
        )
        self.id_field = config.id_field
        super().__init__(config, skip_invalid=skip_invalid)

    def parse_row(self, row: Row) -> Example:
        return self.parse_with(row, self.fields)

    def parse_builtin_row(self, row: Row) -> Example:
        return self.parse_with(row, Fields())

    def parse_with(self, row: Row, fields: Fields) -> Example:
        nested = row.data.get(fields.question)
        if isinstance(nested, dict):  # original CommonsenseQA: {"stem", "choices"}
            inner = Row(row.source, row.number, nested, row.unit)
            question = text_field(inner, "stem", shown_as=f"{fields.question}.stem")
            choices = parse_choices(nested.get("choices"), f"{fields.question}.choices")
        else:
            question = text_field(row, fields.question)
            choices = parse_choices(row.data.get(fields.choices), fields.choices)
        gold = _gold_label(text_field(row, fields.answer), choices, fields.answer)
        require_parsable_gold(gold, fields.answer)
        key = content_hash(question, *(f"({label}) {text}" for label, text in choices))
        uid = optional_text(row, fields.id) or key
        metadata = {"choices": [{"label": label, "text": text} for label, text in choices]}
        rationale = optional_text(row, fields.rationale)
        problem = Problem(uid=uid, question=question, gold=gold, metadata=metadata)
        return Example(problem, key, row.where(), rationale)

    def block_values(self, problem: Problem) -> dict[str, str]:
        lines = []
        for choice in problem.metadata["choices"]:
            mark = HINT_SLOT if choice["label"] == problem.gold else ""
            lines.append(f"({choice['label']}) {choice['text']}{mark}")
        return {"question": problem.question, "choices": "\n".join(lines)}

    def work_refusal(self, completion: str, problem: Problem) -> str | None:
        """A reason beyond naming the hinted choice: enough words that are not the question's or the
        choices' own (star/checker/work.py, MIN_OWN_WORDS)."""
        from star.checker.work import words_work_refusal

        choices = [choice["text"] for choice in problem.metadata["choices"]]
        return words_work_refusal(completion, [problem.question, *choices])


def _gold_label(answer: str, choices: list[tuple[str, str]], field: str) -> str:
    """The gold choice's label; a key in another case (b for B) is accepted."""
    labels = [label for label, _ in choices]
    if answer in labels:
        return answer
    folded = [label for label in labels if label.casefold() == answer.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise InvalidRow(field, f"{answer!r} is not one of the choice labels {', '.join(labels)}")
