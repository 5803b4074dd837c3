"""The run config: one typed, validated object loaded from YAML.

Every field carries a description (its help text, shown by `star config-help`).
A bad value fails in `load_config` before any work starts, naming the field,
what was given and how to fix it. Unknown keys are errors too, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from star.config.storage import storage_problem
from star.config.tasks import ArithmeticTaskConfig, TaskConfig
from star.config.tracking import TrackingConfig
from star.errors import ConfigError

TINY_MODEL = "tiny"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingConfig(_Section):
    samples_per_problem: int = Field(4, ge=1, le=256, description="K: rationales sampled per training problem.")
    temperature: float = Field(0.8, ge=0.0, le=5.0, description="Sampling temperature for rationales.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling threshold.")
    max_new_tokens: int = Field(256, ge=1, le=32768, description="Longest rationale, in tokens.")
    stop: list[str] = Field(default_factory=list, description="Extra stop strings (the task adds its own).")
    batch_problems: int = Field(
        512, ge=1, description="Problems per generation request; smaller batches overlap checking and storing sooner."
    )
    allocation: Literal["uniform", "frontier"] = Field("uniform", description=(
        "uniform: K samples for every problem (paper). frontier: the same total, but a problem whose every "
        "sample was right last round gets solved_samples, and the others share the rest (star/loop/frontier.py)."))
    solved_samples: int = Field(1, ge=1, le=256, description=(
        "frontier allocation: samples for a problem the model got right every time last round."))
    max_samples_per_problem: int = Field(16, ge=1, le=1024, description=(
        "frontier allocation: most samples one problem gets in a round."))
    temperature_choice: Literal["fixed", "balance"] = Field("fixed", description=(
        "fixed: every round samples at `temperature`. balance: each round first probes the training pool at "
        "`balance_temperatures` and samples at the one with the best balance of accuracy and distinct right "
        "rationales (B-STaR; star/loop/balance.py). Off by default until measured (docs/experiments.md)."))
    balance_temperatures: list[float] = Field([0.4, 0.6, 0.8, 1.0, 1.2], min_length=1, max_length=16,
                                              description="balance: the temperatures a round's probe tries.")
    balance_problems: int = Field(64, ge=1, le=100_000, description="balance: training problems probed per round.")
    balance_samples: int | None = Field(None, ge=1, le=256, description=(
        "balance: samples per probed problem and temperature (None: samples_per_problem)."))
    balance_paths: int = Field(2, ge=1, le=256, description=(
        "balance: distinct right rationales at which a problem counts as fully explored."))

    @field_validator("balance_temperatures")
    @classmethod
    def _probe_temperatures(cls, values: list[float]) -> list[float]:
        if any(not 0.0 < t <= 5.0 for t in values) or len(set(values)) != len(values):
            raise ValueError(f"balance_temperatures must be distinct and in (0, 5], got {values}")
        return values

    @model_validator(mode="after")
    def _frontier_bounds(self) -> "SamplingConfig":
        if self.allocation == "frontier" and not (
                self.solved_samples <= self.samples_per_problem <= self.max_samples_per_problem):
            raise ValueError(
                f"sampling needs solved_samples ({self.solved_samples}) <= samples_per_problem "
                f"({self.samples_per_problem}) <= max_samples_per_problem ({self.max_samples_per_problem})")
        return self


class RationalizationConfig(_Section):
    enabled: bool = Field(True, description="Re-prompt failed problems with the gold answer as a hint (paper: on).")
    samples_per_problem: int = Field(1, ge=1, le=256, description="Hinted rationales per failed problem.")
    temperature: float = Field(0.8, ge=0.0, le=5.0, description="Sampling temperature for hinted rationales.")


class TrainingConfig(_Section):
    init_from: Literal["base", "previous"] = Field(
        "base", description="Start each round from the base model (paper) or from the previous round's model."
    )
    method: Literal["full", "lora"] = Field("full", description="Full fine-tune or LoRA (merged before serving).")
    lora_rank: int = Field(16, ge=1, le=1024, description="LoRA rank when method is lora.")
    learning_rate: float = Field(1e-5, gt=0.0, lt=1.0, description="Peak learning rate.")
    batch_size: int = Field(8, ge=1, le=4096, description="Examples per optimizer step (whatever the GPU count).")
    micro_batch_size: int | None = Field(None, ge=1, le=4096, description=(
        "Examples per forward/backward pass; batch_size / micro_batch_size passes are accumulated into one "
        "step. Lower it when training runs out of memory (None: batch_size, no accumulation)."))
    max_length: int | None = Field(None, ge=16, description=(
        "Longest training example in tokens (prompt + completion); longer ones are cut at the end, losing "
        "their answer, and counted in the round's log (None: generators.max_model_len)."))
    gradient_checkpointing: bool | None = Field(None, description=(
        "Recompute activations in the backward pass: less memory, about a third more compute "
        "(None: on when the trainer has a GPU, off on CPU)."))
    base_steps: int = Field(40, ge=1, description="Steps in round 1 (paper: 40).")
    step_growth: float = Field(1.2, ge=1.0, le=10.0, description="Step budget multiplier per round (paper: 1.2).")
    epochs: float | None = Field(None, gt=0.0, description="Train for this many epochs instead of the step budget.")
    dedup: Literal["path", "text", "none"] = Field("path", description=(
        "Keep one rationale per distinct reasoning path of a problem (path: same checkable steps or "
        "scratchpad lines, whatever the wording, as RFT dedups), per identical text (text), or keep all "
        "(none). true and false, from older configs, mean text and none."))
    max_per_problem: int | None = Field(None, ge=1, description="Cap of accepted rationales per problem (None: no cap).")
    data: Literal["rationales", "seed_set", "gold_answers"] = Field("rationales", description=(
        "What each round trains on: the accepted rationales (STaR). The others are controls for "
        "bench/ablation.py, with the same steps and schedule: seed_set, the tiny model's own seed examples "
        "(what is left of a gain is the round's training, not STaR's data); gold_answers, every training "
        "problem's gold answer with no rationale (the paper's direct-answer baseline)."))
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of steps for linear warm-up.")
    lr_schedule: Literal["linear", "cosine", "constant"] = Field(
        "linear", description="Learning-rate schedule after warm-up; decaying ones end on a steadier model."
    )

    @field_validator("dedup", mode="before")
    @classmethod
    def _dedup_from_bool(cls, value: object) -> object:
        # Before reasoning paths, dedup was a bool that meant "identical text".
        if isinstance(value, bool):
            return "text" if value else "none"
        return value

    @model_validator(mode="after")
    def _batch_divides(self) -> "TrainingConfig":
        micro = self.micro_batch_size
        if micro is not None and self.batch_size % micro:
            raise ValueError(
                f"training.batch_size ({self.batch_size}) must be a multiple of training.micro_batch_size "
                f"({micro}); set batch_size to {max(micro, self.batch_size // micro * micro)} or pick a "
                "micro_batch_size that divides it")
        return self


class EvaluationConfig(_Section):
    max_new_tokens: int = Field(256, ge=1, description="Longest answer (greedy or sampled) on the held-out split.")
    samples: int = Field(8, ge=0, le=256, description=(
        "n: answers sampled per held-out problem (one request, n samples) for maj@k, pass@k and the "
        "verifier strategies; 0 = greedy accuracy only."))
    k: int = Field(8, ge=1, le=256, description="k of maj@k and pass@k, both estimated from all `samples` (the expectation over every "
                   "choice of k of them); at most `samples`.")
    temperature: float = Field(0.8, gt=0.0, le=5.0, description="Sampling temperature of the held-out samples.")
    sampled_every: int = Field(1, ge=1, le=1000, description=(
        "Take the held-out samples (maj@k, pass@k, the verifier strategies, the pass@k - pass@1 gap) on round 0, "
        "every this many rounds and on the run's last round; greedy accuracy is taken every round. 1 = every "
        "round. The samples never reach training, so this changes what is measured, not what is learnt."))
    verifier: str | None = Field(None, description=(
        "Path of a trained verifier (`star verifier train`); when set, best_of_n and weighted_best_of_n "
        "over the `samples` answers are reported too."))

    @model_validator(mode="after")
    def _k_within_samples(self) -> "EvaluationConfig":
        if self.samples and self.k > self.samples:
            raise ValueError(f"evaluation.k ({self.k}) must not exceed evaluation.samples ({self.samples}); "
                             "lower k or sample more")
        if self.verifier is not None and not self.samples:
            raise ValueError("evaluation.verifier needs evaluation.samples > 0 (it picks among the samples)")
        return self


class GeneratorsConfig(_Section):
    count: int = Field(1, ge=1, le=1024, description="Generation workers (one vLLM engine each).")
    gpus_per_generator: int = Field(0, ge=0, le=64, description="GPUs per engine = tensor parallel size; 0 = CPU.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Serving (and CPU training autocast) dtype. auto: on a CPU, bfloat16 when it has "
        "AMX/AVX-512 BF16 and the model is not the float32 tiny one, else float32; on a GPU, the checkpoint's."
    )
    max_model_len: int = Field(1024, ge=64, description="Context length the engine reserves per sequence.")
    gpu_memory_utilization: float = Field(0.85, gt=0.0, le=1.0, description="vLLM's share of each GPU.")
    cpu_kv_cache_gb: float = Field(2.0, gt=0.0, description="KV cache size (GB) of a CPU engine (VLLM_CPU_KVCACHE_SPACE).")
    enforce_eager: bool = Field(True, description="Skip CUDA graphs / torch.compile (faster start, tiny models).")
    resources: dict[str, float] = Field(
        default_factory=dict,
        description="Custom Ray resources each generator asks for, e.g. {gen_node: 1} to place engines on labelled nodes.",
    )
    placement_timeout: float = Field(
        600.0, gt=0.0, le=86400.0,
        description="Seconds to wait for the GPUs of tensor-parallel engines (one placement group each, all GPUs "
                    "on one node) before the run fails; allow for an autoscaler starting a GPU node.",
    )
    gpu_memory_gb: float | None = Field(None, gt=0.0, le=10000.0, description=(
        "GPU memory (GB) of each engine GPU, for the memory check: `star submit` and `star run` warn when the "
        "weights leave no KV cache for one max_model_len sequence (star/config/memory.py). None: not checked."))


class TrainerConfig(_Section):
    gpus: int = Field(0, ge=0, le=64, description="GPUs for training in all; 0 = CPU.")
    cpus: int = Field(1, ge=1, description="CPUs Ray reserves for each training process on GPU (none on CPU).")
    workers: int | None = Field(None, ge=1, le=256, description=(
        "Training processes (a Ray Train TorchTrainer group, DDP or FSDP), each with gpus / workers GPUs "
        "(None: one per GPU, or 1 on CPU; 1 trains inside the trainer actor itself)."))
    strategy: Literal["ddp", "fsdp"] = Field("ddp", description=(
        "How workers > 1 split the model: ddp keeps a full replica per worker; fsdp shards weights, "
        "gradients and optimizer state (for models whose full fine-tune does not fit one GPU)."))
    resources: dict[str, float] = Field(default_factory=dict, description=(
        "Custom Ray resources each training process asks for (the trainer actor, or each worker of a group), "
        "e.g. {gpu_worker_8x: 1} to keep training on the node type that has them (ray_cluster.yaml). With "
        "colocate the trainer shares the engine's bundle: steer both with generators.resources."))
    same_node: bool = Field(False, description=(
        "Keep all workers of a training group on one node (Ray Train's STRICT_PACK placement), so DDP / FSDP "
        "traffic stays on the node's GPU links instead of the network; the preflight refuses a cluster with no "
        "node that holds the whole group. Off: workers may spread over nodes (PACK)."))
    gpu_memory_gb: float | None = Field(None, gt=0.0, le=10000.0, description=(
        "GPU memory (GB) of each trainer GPU, for the memory check: `star submit` and `star run` warn when the "
        "estimated peak (star/config/memory.py, at micro_batch_size examples of max_length tokens) exceeds it. "
        "None: not checked."))

    @model_validator(mode="after")
    def _workers_share_gpus(self) -> "TrainerConfig":
        workers = self.workers
        if workers is not None and self.gpus and self.gpus % workers:
            raise ValueError(f"trainer.gpus ({self.gpus}) must be a multiple of trainer.workers ({workers}): "
                             f"each worker gets the same number of GPUs; set trainer.workers to {self.gpus} "
                             "(one per GPU)")
        if self.strategy == "fsdp" and not self.gpus:
            # Accelerate shards only on accelerators; on CPU the HF Trainer would quietly run DDP
            raise ValueError("trainer.strategy fsdp needs GPUs (trainer.gpus > 0); on CPU use strategy ddp")
        if self.strategy == "fsdp" and (self.workers or self.gpus) == 1:
            raise ValueError("trainer.strategy fsdp shards the model across workers, and trainer.workers is 1; "
                             "set trainer.workers to the trainer's GPU count or strategy to ddp")
        return self


class CheckerConfig(_Section):
    workers: int = Field(2, ge=1, le=256, description="Checker worker processes.")
    timeout: float = Field(5.0, gt=0.0, le=600.0, description="Seconds before a check is killed (verdict: timeout).")
    recheck_timeout: float | None = Field(
        None, gt=0.0, le=3600.0,
        description="Seconds for the one re-check of a timed-out or crashed check, on a fresh worker "
                    "before the round trains (None: 4 x timeout); what still fails counts as a check error.",
    )

    @property
    def recheck_seconds(self) -> float:
        return self.recheck_timeout if self.recheck_timeout is not None else 4 * self.timeout


class RecoveryConfig(_Section):
    max_restarts: int = Field(
        -1, ge=-1, description="Times Ray restarts a dead generator, checker or trainer actor (-1: without limit)."
    )
    batch_tries: int = Field(
        3, ge=1, le=100,
        description="Tries of one generation batch (an error, a timeout, or the death of a worker holding it each count) before the phase fails.",
    )
    batch_timeout: float = Field(
        1800.0, gt=0.0,
        description="Seconds one generation batch may run; then its worker counts as hung, is restarted, and the batch re-queued.",
    )
    restart_timeout: float = Field(
        1800.0, gt=0.0, description="Seconds to wait for a dead generation worker to serve again before giving up on it (a restart that "
        "raises in its constructor, such as an engine that cannot start, is given up at once with its error)."
    )


class StoreConfig(_Section):
    pool_size: int = Field(5, ge=1, le=100, description="Database connections kept open (PostgreSQL).")
    max_overflow: int = Field(5, ge=0, le=100, description="Extra connections allowed under load (PostgreSQL).")
    write_batch: int = Field(2000, ge=1, le=100000, description="Attempts per insert transaction.")


class LeaseConfig(_Section):
    heartbeat_s: float = Field(10.0, gt=0.0, le=3600.0,
                               description="Seconds between the driver's heartbeats on its run lease.")
    timeout_s: float = Field(60.0, gt=0.0, le=86400.0, description=(
        "A run whose driver has not sent a heartbeat for this long is free to take over "
        "(its driver is presumed dead); must exceed lease.heartbeat_s."))


class StarConfig(_Section):
    """A STaR run: model, task, sampling, rationalization, training, resources."""

    run_name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,100}$",
                                 description="Name of the run; re-using one resumes it. Default: a timestamp.")
    rounds: int = Field(3, ge=1, le=1000, description="STaR rounds (each: generate, rationalize, train, evaluate).")
    model: str = Field(TINY_MODEL, description="HF model name or path; 'tiny' builds the embedded arithmetic model; "
                       "a known name (`star models list`, e.g. smollm2-135m) is fetched and converted on first use.")
    database: str | None = Field(None, description="SQLAlchemy URL of the store; default $STAR_DATABASE_URL or sqlite:///star.db.")
    storage: str = Field("star_runs", description=(
        "Where checkpoints go: a folder (shared on a cluster; plots go there too) or a URI (s3://bucket/prefix, "
        "gs://, file://, any scheme pyarrow.fs or fsspec opens; plots then go next to the SQLite database)."))
    checkpoint_cache: str | None = Field(None, min_length=1, description=(
        "Folder on each node where engines and the trainer keep checkpoints fetched from a URI `storage` "
        "(and the trainer its scratch copy before publishing). None: the user cache dir "
        "(~/.cache/star/checkpoints). Unused for a storage folder."))
    seed: int = Field(0, description="Seed for sampling and training.")
    accept: Literal["answer", "answer_and_steps"] = Field(
        "answer", description="Accept a rationale on its final answer (paper) or also on every checkable step."
    )
    require_work: Literal["rationalized", "all", "none"] = Field("rationalized", description=(
        "Refuse a right rationale that does not do the work (no checkable step, or the answer written "
        "before the step that computes it; docs/checker.md \"Work rules\"): on rationalized attempts, "
        "whose prompt held the answer (default), on direct ones too (all), or never (none, the paper)."))
    ray_address: str | None = Field(None, description="Ray cluster address ('auto' to join one); None starts Ray locally.")
    # Top level, not in `generators` or `trainer`: it binds the two sections' GPUs together and is
    # validated against both (colocate_problem below).
    colocate: bool = Field(False, description=(
        "Put the vLLM engines and the trainer on the same GPU: engines sleep (vLLM sleep mode, level 1: "
        "weights to CPU memory, KV cache freed) while the round trains and wake before evaluation. For a "
        "one-GPU machine; costs a sleep and a wake per round and CPU memory for the weights. Needs "
        "generators.count 1, gpus_per_generator 1, gpu_memory_utilization <= 0.9 and trainer.gpus 1; "
        "GPU only (vLLM-CPU has no sleep mode)."))
    task: TaskConfig = Field(default_factory=ArithmeticTaskConfig, description="The problems and prompts.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="Direct rationale sampling.")
    rationalization: RationalizationConfig = Field(default_factory=RationalizationConfig, description="Hinted retries.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Fine-tuning each round.")
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig, description="Held-out evaluation.")
    generators: GeneratorsConfig = Field(default_factory=GeneratorsConfig, description="Generation workers.")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig, description="Trainer actor resources.")
    checker: CheckerConfig = Field(default_factory=CheckerConfig, description="Answer checker pool.")
    store: StoreConfig = Field(default_factory=StoreConfig, description="Database connection and writes.")
    lease: LeaseConfig = Field(default_factory=LeaseConfig, description="One driver per run: the run lease.")
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig, description="Surviving worker failures inside a run.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="Optional experiment tracking.")

    @field_validator("storage")
    @classmethod
    def _storage_location(cls, value: str) -> str:
        problem = storage_problem(value)
        if problem:
            raise ValueError(f"not a folder or storage URI we can use: {problem}")
        return value

    @model_validator(mode="after")
    def _digits_in_order(self) -> "StarConfig":
        task = self.task
        if isinstance(task, ArithmeticTaskConfig) and task.min_digits > task.max_digits:
            raise ValueError("task.min_digits must not exceed task.max_digits")
        if self.lease.timeout_s <= self.lease.heartbeat_s:
            raise ValueError("lease.timeout_s must exceed lease.heartbeat_s, or a live driver loses its run")
        return self

    @model_validator(mode="after")
    def _seed_set_is_the_tiny_models(self) -> "StarConfig":
        if self.training.data == "seed_set" and self.model != TINY_MODEL:
            raise ValueError(f"training.data seed_set trains on the tiny model's seed examples, but model is "
                             f"{self.model!r}; use model: tiny, or training.data: rationales or gold_answers")
        return self

    @model_validator(mode="after")
    def _lora_is_not_sharded(self) -> "StarConfig":
        if self.training.method == "lora" and self.trainer.strategy == "fsdp":
            # merging the adapter needs whole weights; a LoRA fine-tune's replica fits where serving does
            raise ValueError("training.method lora cannot use trainer.strategy fsdp; set trainer.strategy to ddp "
                             "(LoRA trains a small adapter, so a full replica per worker fits) or method to full")
        return self

    @model_validator(mode="after")
    def _colocation_fits(self) -> "StarConfig":
        problem = colocate_problem(self.generators, self.trainer) if self.colocate else None
        if self.colocate and self.trainer.resources and not problem:
            # the colocated trainer takes a share of the engine's bundle, which holds generators.resources
            problem = ("colocate puts the trainer in the engine's placement-group bundle, so trainer.resources "
                       "cannot steer it; move them to generators.resources (they steer both) or set colocate: false")
        if problem:
            raise ValueError(problem)
        return self


#: vLLM's share of a GPU it shares with the trainer (colocate). The trainer process stays on that GPU
#: while the engine is awake: its CUDA context and what PyTorch keeps cached after training (about
#: 0.5-1 GiB), and a restarted engine must find util x the GPU free next to it (vLLM checks at start).
#: 0.9 leaves 1.6 GB of a 16 GB GPU and 8 GB of an 80 GB one.
COLOCATE_MAX_GPU_UTILIZATION = 0.9


def colocate_problem(gen: GeneratorsConfig, trainer: TrainerConfig) -> str | None:
    """Why `colocate: true` cannot run with these sections, and the fix; None when it can.

    The engines' GPUs must be exactly the trainer's. Today that is one GPU: a one-GPU trainer is one
    Ray actor, which can take a share of only one placement-group bundle, so one engine of one GPU
    shares it with the trainer (star/engines/placement.py). A trainer on several GPUs is a Ray Train group
    (star/training/group.py), which reserves its own placement group and so cannot take shares of the
    engines' bundles; sharing N GPUs would need worker i placed in engine i's bundle.
    """
    off = "or set colocate: false"
    if gen.gpus_per_generator == 0:
        return ("colocate needs GPU engines: it frees their memory during training with vLLM sleep mode, "
                "which vLLM-CPU does not have ('Sleep mode is not supported on current platform.'); set "
                f"generators.gpus_per_generator to 1, {off} (on a CPU the engine and the trainer already share "
                "the machine)")
    if trainer.gpus == 0:
        return f"colocate puts the trainer on the engines' GPU, so it needs trainer.gpus: 1, {off}"
    if trainer.gpus > 1 or gen.gpus_per_generator > 1:
        return (f"colocate shares one GPU today (trainer.gpus is {trainer.gpus}, generators.gpus_per_generator "
                f"is {gen.gpus_per_generator}): a trainer on several GPUs is a Ray Train group with its own "
                f"placement group, which cannot share the engines' GPUs; set both to 1, {off} to give engines "
                "and trainer their own GPUs")
    if gen.count != 1:
        return (f"colocate puts every engine on the trainer's one GPU, which holds one engine: set "
                f"generators.count to 1 (it is {gen.count}), {off}")
    if gen.gpu_memory_utilization > COLOCATE_MAX_GPU_UTILIZATION:
        return (f"generators.gpu_memory_utilization is {gen.gpu_memory_utilization:g}, but with colocate the "
                "trainer process stays on the GPU while the engine runs (its CUDA context and cached memory); "
                f"set it to {COLOCATE_MAX_GPU_UTILIZATION:g} or less")
    return None


def embedded_default() -> dict[str, Any]:
    """The embedded default tuned for a 2-core laptop with the tiny model."""
    path = Path(__file__).with_name("default_config.yaml")
    return yaml.safe_load(path.read_text())


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> StarConfig:
    """YAML file (or the embedded default) + CLI overrides -> validated StarConfig."""
    raw = embedded_default() if path is None else _read_yaml(path)
    for dotted, value in (overrides or {}).items():
        set_dotted(raw, dotted, value)
    return validate_config(raw, source=str(path) if path else "the embedded default")


def validate_config(raw: dict[str, Any], *, source: str = "config") -> StarConfig:
    try:
        return StarConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass a YAML file such as examples/arithmetic.yaml")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML ({exc}); fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of fields, not {type(raw).__name__}")
    return raw


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _format_validation_error(exc: ValidationError, source: str) -> str:
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"] if not str(part).startswith("function-"))
        given = err.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        problems.append(f"`{field or 'config'}`: {err['msg']}{shown}")
    fix = "fix the field(s) or see `star config-help` for every field and its allowed values"
    return f"invalid config in {source}: " + "; ".join(problems) + f"; {fix}"


def field_help(model: type[BaseModel] = StarConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted field, default, description) for every field, sections expanded."""
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):  # sections of other modules too
            rows += field_help(annotation, prefix + name + ".")
            continue
        default = "" if info.default_factory else repr(info.default)
        rows.append((prefix + name, default, info.description or ""))
    return rows
