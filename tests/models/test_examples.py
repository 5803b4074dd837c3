"""The example configs validate, build their tasks and add up."""

from __future__ import annotations

from pathlib import Path

from star.config import load_config
from star.tasks import build_task

REPO = Path(__file__).resolve().parents[2]


def test_arithmetic_example_uses_the_known_model_and_a_few_shot_prompt():
    config = load_config(REPO / "examples" / "smollm2_arithmetic.yaml")
    assert config.model == "smollm2-135m" and config.training.method == "lora"
    task = build_task(config.task)
    assert len(task.shots) == 4 and task.stop == ("\n\n", "\nQ:")
    assert len(task.train_problems()) == 120 and len(task.eval_problems()) == 60


def test_gsm8k_example_sends_chat_messages_and_runs_on_the_local_copy():
    overrides = {"task.hub_name": None, "task.hub_config": None, "task.eval_split": None,
                 "task.train_path": str(REPO / "tests/data/gsm8k/train.jsonl"),
                 "task.eval_path": str(REPO / "tests/data/gsm8k/test.jsonl")}
    config = load_config(REPO / "examples" / "smollm2_gsm8k.yaml", overrides)
    task = build_task(config.task)
    assert task.use_chat_template
    assert len(task.train_problems()) == 200 and len(task.eval_problems()) == 50
    messages = task.to_messages(task.prompt(task.train_problems()[0]))
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2 + ["user"]


def test_gpu_examples_fill_their_node_and_keep_batch_size_per_optimizer_step():
    from star.training.group import group_plan
    from star.training.sft import batch_plan

    seven_b = load_config(REPO / "examples" / "math_7b_8gpu.yaml")
    engines = seven_b.generators.count * seven_b.generators.gpus_per_generator
    assert engines + seven_b.trainer.gpus == 8, "the 8-GPU example uses every GPU of its node"
    plan = group_plan(seven_b.trainer)
    assert plan is not None and plan.workers == 4 and plan.gpus_per_worker == 1 and plan.strategy == "fsdp"
    training = seven_b.training
    # the comment's arithmetic: 64 = 2 per pass x 8 accumulated x 4 workers
    assert batch_plan(training.batch_size, training.micro_batch_size, plan.workers) == (2, 8)
    assert training.method == "full"

    one_gpu = load_config(REPO / "examples" / "gsm8k_gpu.yaml")
    assert group_plan(one_gpu.trainer) is None  # one trainer GPU: the actor trains itself
