"""Known-harmless vLLM notices are dropped in every engine process; everything else still shows."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pytest

from star.engines.quiet_logs import KNOWN_NOISE, KnownNoise, quiet_engine_logs, vllm_logging_config


def _logged(messages: list[str]) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(KnownNoise())
    logger = logging.getLogger("star-test-quiet-logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for message in messages:
            logger.warning(message)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_each_known_notice_is_dropped_and_other_warnings_pass() -> None:
    # the messages as vLLM 0.32 words them, with their variable parts
    seen = ["This model does not officially support disabling chunked prefill. Disabling this manually may crash",
            "Enforce eager set, disabling torch.compile, CUDAGraphs, and JIT kernel warmup.",
            "Inductor compilation was disabled by user settings, optimizations ...",
            "Triton is not installed. triton-cpu is expected on x86 CPUs.",
            "Triton is installed, but doesn't include CPU backend. Disabling Triton.",
            "Model Runner V2 requires Triton; using the V1 model runner instead.",
            "libtcmalloc is not found in LD_PRELOAD. For best performance, ...",
            "libiomp is not found in LD_PRELOAD. For best performance, ...",
            "RotaryEmbedding: Failed to load weights", "ParallelLMHead: Failed to load weights",
            "Triton not available, find_triton_kernels = []",
            "Reset SSM cache type to float32 for accelerated GDN mamba backend 'none'.",
            "Attempted to load weight layers.9.mlp.down_proj.weight with dtype torch.float32 into parameter with "
            "dtype torch.bfloat16"]
    kept = ["LlamaDecoderLayer: Failed to load weights", "KV cache space is too small", "out of memory",
            "Attempted to load weight norm.weight with dtype torch.float16 into parameter with dtype torch.int8"]
    assert all(any(part in message for message in seen) for part, _ in KNOWN_NOISE)  # each entry is tested
    assert _logged(seen) == ""
    assert _logged(kept).splitlines() == kept


def test_the_engine_config_filters_vllms_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_LOGGING_CONFIG_PATH", raising=False)
    monkeypatch.delenv("TORCH_CPP_LOG_LEVEL", raising=False)
    monkeypatch.setenv("VLLM_LOGGING_LEVEL", "WARNING")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    quiet_engine_logs()
    written = json.loads(Path(os.environ["VLLM_LOGGING_CONFIG_PATH"]).read_text())
    assert written == vllm_logging_config("WARNING")
    assert written["handlers"]["vllm"]["filters"] == ["known_noise"]
    assert written["filters"]["known_noise"]["()"] == "star.engines.quiet_logs.KnownNoise"
    assert os.environ["TORCH_CPP_LOG_LEVEL"] == "ERROR"
    # spawned engine processes get the warnings filter through the environment, once
    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    quiet_engine_logs()
    quiet_engine_logs()
    assert os.environ["PYTHONWARNINGS"] == "error::DeprecationWarning,ignore::FutureWarning:vllm.triton_utils.dispatcher"


def test_a_users_own_logging_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_LOGGING_CONFIG_PATH", "/etc/my-vllm-logging.json")
    monkeypatch.setenv("TORCH_CPP_LOG_LEVEL", "INFO")
    quiet_engine_logs()
    assert os.environ["VLLM_LOGGING_CONFIG_PATH"] == "/etc/my-vllm-logging.json"
    assert os.environ["TORCH_CPP_LOG_LEVEL"] == "INFO"


def test_notices_logged_before_vllms_config_are_filtered_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM warns while it is imported, before its config applies: Python's last-resort handler prints it."""
    monkeypatch.setenv("VLLM_LOGGING_CONFIG_PATH", "/unused")
    monkeypatch.setattr(logging, "lastResort", logging.StreamHandler(io.StringIO()))
    quiet_engine_logs()
    unconfigured = logging.getLogger("star-test-unconfigured.vllm.triton_utils")
    unconfigured.propagate = False  # no handler anywhere: Python falls back to its last-resort handler
    unconfigured.warning("Triton is installed, but doesn't include CPU backend. Disabling Triton.")
    unconfigured.warning("something vLLM really means")
    assert logging.lastResort.stream.getvalue() == "something vLLM really means\n"


def test_torchs_triton_notice_is_dropped_on_its_own_logger_whatever_its_handlers() -> None:
    """torch logs it through handlers of its own, so the filter sits on the logger (in spawned engines
    through the logging config, here through quiet_engine_logs)."""
    import logging.config

    config = vllm_logging_config("INFO")
    name = "torch._library.triton"
    # the part of the engine's config that concerns this logger (the rest would rebind vLLM's handler)
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "filters": config["filters"],
                               "loggers": {name: config["loggers"][name]}})
    noisy = logging.getLogger(name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    noisy.addHandler(handler)
    try:
        noisy.warning("Triton not available, find_triton_kernels = []")
        noisy.warning("a real problem in torch")
    finally:
        noisy.removeHandler(handler)
        noisy.filters.clear()
    assert stream.getvalue() == "a real problem in torch\n"
