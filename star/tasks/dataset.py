"""What every dataset task shares: loading, validation, splits, shots, prompts.

A subclass says how one row becomes a problem (`parse_row`) and which packaged
templates it uses; everything else happens here, eagerly, in the constructor,
so that bad data fails before any generation starts.

A prompt is the few-shot examples followed by the problem's block, the prompt
template rendered for it. The template marks where the hint goes; each block is
rendered once with a private marker (`HINT_SLOT`) there, and the direct and
hinted prompts are that one string with the marker removed or replaced. That is
what makes `remove_hint(hinted_prompt(p), p) == prompt(p)` hold exactly. In the
hinted prompt the few-shot examples carry their hints too, as in the STaR
paper's rationalization prompt, so the model sees how a hint is used.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import ClassVar

from star.config.tasks import DatasetTaskConfig
from star.errors import DataError
from star.tasks import splits
from star.tasks.base import Problem, Task
from star.tasks.loading import Row, read_file_rows, read_hub_rows
from star.tasks.parsing import Example, InvalidRow
from star.tasks.templates import Template, builtin_path, load_template

HINT_SLOT = "\x00"
#: between a block's answer cue (e.g. "A:") and a worked example's rationale
SHOT_JOIN = " "
#: after each worked example; also the start of the stop string
SHOT_END = "\n\n"


class DatasetTask(Task):
    """A task over a dataset of problems with gold answers."""

    default_dataset: ClassVar[str]
    prompt_file: ClassVar[str]
    hint_file: ClassVar[str]
    #: placeholders a prompt template must contain exactly once
    prompt_placeholders: ClassVar[tuple[str, ...]] = ("question", "hint")
    #: packaged worked examples for the few-shot prompt; None = draw from the train data
    builtin_shots: ClassVar[str | None] = None
    #: the column holding a unique id, checked for repeats (None: uids are content hashes)
    id_field: str | None = None

    def __init__(self, config: DatasetTaskConfig, *, skip_invalid: bool = False) -> None:
        self.config = config
        self.skip_invalid = skip_invalid
        self.dataset = config.dataset_name or self.default_name()
        self.use_chat_template = config.use_chat_template
        self.skipped_invalid = 0
        self.duplicates_dropped = 0
        self._template = self._load_prompt_template()
        self._hint = load_template(
            config.hint_template, self.hint_file, field="hint_template", required=(), allowed=("answer",)
        )
        self.stop = self._stop_strings(self._template)
        train, held_out, self.shots = self._load_examples()
        self._train = [e.problem for e in train]
        self._eval = [e.problem for e in held_out]
        self._pairs = {hinted: self._shot_pairs(hinted) for hinted in (False, True)}
        self._prefix = {
            hinted: "".join(user + SHOT_JOIN + answer + SHOT_END for user, answer in pairs)
            for hinted, pairs in self._pairs.items()
        }

    # -- what a subclass provides -------------------------------------------

    @abstractmethod
    def parse_row(self, row: Row) -> Example:
        """Turn one row into an example; raise InvalidRow naming the bad field."""

    def default_name(self) -> str:
        """The dataset name recorded in the store when the config sets none."""
        return self.default_dataset

    def parse_builtin_row(self, row: Row) -> Example:
        """Parse a row of the packaged few-shot file (whose columns are the defaults)."""
        return self.parse_row(row)

    def block_values(self, problem: Problem) -> dict[str, str]:
        """Values for the prompt template; the one HINT_SLOT marks the hint's place."""
        return {"question": problem.question, "hint": HINT_SLOT}

    # -- the Task interface ---------------------------------------------------

    def train_problems(self) -> list[Problem]:
        return list(self._train)

    def eval_problems(self) -> list[Problem]:
        return list(self._eval)

    def prompt(self, problem: Problem) -> str:
        return self._prefix[False] + self._block(problem, hinted=False)

    def hinted_prompt(self, problem: Problem) -> str:
        return self._prefix[True] + self._block(problem, hinted=True)

    def remove_hint(self, hinted_prompt: str, problem: Problem) -> str:
        # The hint sits at known places of one rendering, so removing it is
        # re-rendering without it; refusing anything else keeps a prompt
        # that still holds a hint out of the training data.
        if hinted_prompt != self.hinted_prompt(problem):
            raise ValueError(
                f"not the hinted prompt of problem {problem.uid!r} in task {self.dataset!r}; "
                "cannot remove its hint exactly"
            )
        return self.prompt(problem)

    def hint(self, problem: Problem) -> str:
        """The hint text inserted for a problem (the rendered hint template)."""
        return self._hint.render(answer=problem.gold)

    def to_messages(self, prompt: str) -> list[dict[str, str]]:
        """Each few-shot example as a user turn and an assistant turn, then the
        problem's block as the last user turn."""
        for hinted in (True, False):
            prefix = self._prefix[hinted]
            if prompt.startswith(prefix):
                messages = []
                for user, answer in self._pairs[hinted]:
                    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
                return messages + [{"role": "user", "content": prompt[len(prefix) :]}]
        raise ValueError(f"the prompt does not start with task {self.dataset!r}'s few-shot examples")

    # -- rendering ---------------------------------------------------------------

    def _slotted_block(self, problem: Problem) -> str:
        return self._template.render(**self.block_values(problem))

    def _block(self, problem: Problem, *, hinted: bool) -> str:
        return self._slotted_block(problem).replace(HINT_SLOT, self.hint(problem) if hinted else "")

    def _shot_pairs(self, hinted: bool) -> list[tuple[str, str]]:
        return [(self._block(shot.problem, hinted=hinted), shot.rationale or "") for shot in self.shots]

    def _load_prompt_template(self) -> Template:
        return load_template(
            self.config.prompt_template,
            self.prompt_file,
            field="prompt_template",
            required=self.prompt_placeholders,
            allowed=self.prompt_placeholders,
        )

    @staticmethod
    def _stop_strings(template: Template) -> tuple[str, ...]:
        # a completion that starts the next example ("\n\nQ:") has ended
        start = template.prefix().rstrip()
        return (SHOT_END + start,) if start else ()

    # -- loading -----------------------------------------------------------------

    def _load_examples(self) -> tuple[list[Example], list[Example], list[Example]]:
        """(train pool, held-out set, few-shot examples), disjoint by content."""
        config = self.config
        train = self._parse_rows(self._train_rows())
        eval_rows = self._eval_rows()
        held_out = None if eval_rows is None else self._parse_rows(eval_rows)
        shots = self._choose_shots(train)
        shot_keys = [shot.key for shot in shots]
        train = splits.without(train, shot_keys)
        if held_out is None:
            assert config.held_out_fraction is not None  # the config validator guarantees it
            train, held_out = splits.hold_out(train, config.held_out_fraction, config.seed)
        else:
            held_out = splits.without(held_out, shot_keys)
            train = splits.without(train, [e.key for e in held_out])
        train = splits.sample(train, config.train_size, config.seed, "train")
        held_out = splits.sample(held_out, config.eval_size, config.seed, "eval")
        for name, part in (("training pool", train), ("held-out set", held_out)):
            if not part:
                raise DataError(
                    f"task {self.dataset!r}: the {name} is empty after removing invalid rows "
                    f"({self.skipped_invalid}), duplicates and the few-shot examples; check the data files"
                )
        return train, held_out, shots

    def _train_rows(self) -> list[Row]:
        config = self.config
        if config.train_path is not None:
            return read_file_rows(config.train_path, field_name="train_path")
        assert config.hub_name is not None  # the config validator guarantees one source
        return read_hub_rows(config.hub_name, config.hub_config, config.train_split)

    def _eval_rows(self) -> list[Row] | None:
        config = self.config
        if config.eval_path is not None:
            return read_file_rows(config.eval_path, field_name="eval_path")
        if config.hub_name is not None and config.eval_split is not None:
            return read_hub_rows(config.hub_name, config.hub_config, config.eval_split)
        return None

    def _parse_rows(self, rows: list[Row], parse: Callable[[Row], Example] | None = None) -> list[Example]:
        """Parse and validate every row, then drop repeated content."""
        examples: list[Example] = []
        used_ids: dict[str, Example] = {}
        for row in rows:
            try:
                example = self._parse_one(row, used_ids, parse or self.parse_row)
            except InvalidRow as exc:
                if not self.skip_invalid:
                    raise DataError(
                        f"{row.where()}: {exc}; fix the row, or pass --skip-invalid to drop such rows"
                    ) from None
                self.skipped_invalid += 1
                continue
            examples.append(example)
        kept, dropped = splits.dedup(examples)
        self.duplicates_dropped += dropped
        return kept

    def _parse_one(self, row: Row, used_ids: dict[str, Example], parse: Callable[[Row], Example]) -> Example:
        if row.error is not None:
            raise InvalidRow(None, row.error)
        example = parse(row)
        if self._slotted_block(example.problem).count(HINT_SLOT) != 1:
            raise InvalidRow(None, "the text contains a NUL character")
        first = used_ids.setdefault(example.problem.uid, example)
        if first.key != example.key:
            raise InvalidRow(
                self.id_field, f"id {example.problem.uid!r} is already used by {first.where}"
            )
        return example

    def _choose_shots(self, train: list[Example]) -> list[Example]:
        """Worked examples for the few-shot prompt, a seeded choice."""
        count = self.config.shots
        if count == 0:
            return []
        if self.config.shots_path is not None:
            origin = self.config.shots_path
            candidates = self._parse_rows(read_file_rows(origin, field_name="shots_path"))
        elif self.builtin_shots is not None:
            origin = f"the built-in examples {self.builtin_shots}"
            rows = read_file_rows(str(builtin_path(self.builtin_shots)), field_name="shots_path")
            candidates = self._parse_rows(rows, self.parse_builtin_row)
        else:
            origin, candidates = "the training data", train
        worked = [e for e in candidates if e.rationale]
        if len(worked) < count:
            raise DataError(
                f"task.shots is {count} but {origin} has only {len(worked)} worked examples "
                "(rows with a rationale); lower task.shots or set task.shots_path"
            )
        return splits.ranked(worked, self.config.seed, "shots")[:count]
