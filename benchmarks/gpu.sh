#!/usr/bin/env bash
# The benchmark suite on a machine with an NVIDIA GPU:   bash benchmarks/gpu.sh
# Uses the Python in $PYTHON (default python3) if its JAX already sees a GPU; otherwise makes
# .venv-gpu and installs the package with the CUDA extra from PyPI.  Then it checks that the GPU
# computes what the CPU computes (benchmarks/gpu_check.py) and runs the suite up to 10^7 states.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
sees_gpu() { "$1" -c "import jax, sys; sys.exit(0 if any(d.platform == 'gpu' for d in jax.devices()) else 1)" 2>/dev/null; }
if ! sees_gpu "$PYTHON"; then
    "$PYTHON" -m venv .venv-gpu
    PYTHON=.venv-gpu/bin/python
    "$PYTHON" -m pip install --quiet --upgrade pip
    "$PYTHON" -m pip install --quiet -e '.[cuda]'
    sees_gpu "$PYTHON" || { echo "gpu.sh: JAX sees no GPU even with the CUDA extra (check the NVIDIA driver: nvidia-smi)" >&2; exit 1; }
fi
"$PYTHON" benchmarks/gpu_check.py
"$PYTHON" benchmarks/suite.py --sizes 1000 10000 100000 1000000 10000000 --batches 1 100 10000 100000 "$@"
