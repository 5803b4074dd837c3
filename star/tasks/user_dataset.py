"""Any user dataset: `jsonl` (local files) and `hf` (a hub dataset).

The config names the question and answer columns, how to get the gold out of
the answer column, and what kind of answer it is. Few-shot examples need worked
rationales: a `rationale_field` column of the training data or a `shots_path`
file with the same columns. A rationale is used as written, so it should end
with an answer line the checker reads ("The answer is 72.", "#### 72" or a
`\\boxed{}`).
"""

from __future__ import annotations

import re
from pathlib import Path

from star.config.tasks import UserDatasetTaskConfig
from star.tasks.base import Problem, content_hash
from star.tasks.dataset import DatasetTask
from star.tasks.loading import Row
from star.tasks.parsing import (
    Example,
    InvalidRow,
    after_hashes,
    last_boxed,
    optional_text,
    require_parsable_gold,
    text_field,
)

# 72, -3.5, 1,080, 3/4, 12%: what `answer_type: number` accepts
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?%?|[-+]?\.\d+%?")


class UserDatasetTask(DatasetTask):
    """Question/answer rows from any file or hub dataset `datasets` can read."""

    prompt_file = "qa_prompt.txt"
    hint_file = "qa_hint.txt"

    def __init__(self, config: UserDatasetTaskConfig, *, skip_invalid: bool = False) -> None:
        self.user_config = config
        self.answer_type = "number" if config.answer_type == "number" else "symbolic"
        self.id_field = config.id_field
        super().__init__(config, skip_invalid=skip_invalid)

    def parse_row(self, row: Row) -> Example:
        config = self.user_config
        question = text_field(row, config.question_field)
        gold = self._gold(text_field(row, config.answer_field))
        if config.answer_type == "number" and not _NUMBER.fullmatch(gold):
            raise InvalidRow(
                config.answer_field,
                f"answer_type is number but {gold!r} is not a plain number (set answer_type: latex or text)",
            )
        require_parsable_gold(gold, config.answer_field)
        key = content_hash(question)
        uid = optional_text(row, config.id_field) or key
        group = optional_text(row, config.group_field)
        metadata = {} if group is None else {"group": group}
        rationale = optional_text(row, config.rationale_field)
        problem = Problem(uid=uid, question=question, gold=gold, metadata=metadata)
        return Example(problem, key, row.where(), rationale)

    def _gold(self, answer: str) -> str:
        config = self.user_config
        if config.answer_extract == "after_hashes":
            return after_hashes(answer, config.answer_field)
        if config.answer_extract == "last_boxed":
            boxed = last_boxed(answer)
            if boxed is None:
                raise InvalidRow(config.answer_field, "no \\boxed{...} answer in it")
            return boxed
        return answer

    def eval_group(self, problem: Problem) -> str:
        return str(problem.metadata.get("group", "all"))

    def default_name(self) -> str:
        """The hub name, or `folder/file` of the training file without its suffix
        (e.g. `gsm8k/train`); set task.dataset_name for a better one."""
        config = self.user_config
        if config.hub_name is not None:
            return config.hub_name
        assert config.train_path is not None  # the config validator guarantees one source
        path = Path(config.train_path)
        return f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem
