#!/usr/bin/env bash
# The decoder / QLoRA GPU tier on an offline CUDA machine (tests/test_decoder_gpu.py).
#
# Needs, besides what clinitui needs (torch with CUDA, transformers, peft, safetensors, tokenizers,
# typer, scikit-learn, numpy, psutil, nvidia-ml-py): bitsandbytes (>= 0.43; 0.50.2 was used, its
# wheel carries libbitsandbytes_cuda130.so for torch +cu130) and, where the image lacks them,
# pydantic + pydantic-core + annotated-types + typing-inspection and tomli-w. On a box without
# internet, download on a machine with it and copy the folder across:
#
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#       --platform manylinux_2_17_x86_64 -d wheels bitsandbytes pydantic pydantic-core annotated-types \
#       typing-inspection tomli-w
#
# then run from the repository root:  tests/gpu_check_qlora.sh [WHEELS_DIR] [REPORT.jsonl]
set -euo pipefail
wheels="${1:-wheels}"
report="${2:-gpu-report-decoder.jsonl}"
python="${PYTHON:-python3}"
if [ -d "$wheels" ]; then
  site="$(mktemp -d)/site"
  # unpacked rather than installed: nothing outside a temporary folder is changed
  "$python" -m pip install --quiet --no-index --no-deps --target "$site" "$wheels"/*.whl
  export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$python" -c "import torch, bitsandbytes; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'bnb', bitsandbytes.__version__)"
CLINITUI_GPU_REPORT="$report" "$python" -m pytest -q -p no:cacheprovider -m gpu \
  tests/test_decoder_gpu.py -s -o addopts=""
