#!/usr/bin/env bash
# The benchmark suite on a machine with an NVIDIA GPU:   bash benchmarks/gpu.sh
# Uses the Python in $PYTHON (default python3) if its JAX already sees a GPU; otherwise, where nvidia-smi
# lists a GPU, makes .venv-gpu and installs the package with the CUDA extra from PyPI (without one it
# stops there).  Then it checks that the GPU computes what the CPU computes (benchmarks/gpu_check.py),
# runs the suite up to 10^7 states, times the scatter reductions and the gathers alone (benchmarks/scatters.py,
# gathers.py) and profiles the 10^6-state step and simulate_batch with 10^5 runs (benchmarks/profile.py).
# Then it times the step's variants side by side (benchmarks/variants.py), profiles the 10^7-state step, and
# at 10^7 states times the distance computed anew each step (before change 27), the masks gathered apart
# (before change 30), the reverse trust gathered apart (change 32, the CPU's way), the threats in rows and the
# world with its dyads in pairs against the code as it is (the gathers at random miss the cache there).
# On an H100 (2026-11-27) the suite took about 4 minutes (generating the 10^7-state world on the
# host is most of it), each profile under a minute, the check over a minute. On an H200 (the same
# day) the suite at 10^6 and 10^7 states with a batch of 10^5 took 3.4 minutes, the check at 1 and
# 52 steps 1.1 minutes, the variants at 10^6 states 1.7 minutes. In the eighth session (H200): the
# suite at 10^6 and 10^7 states without batches 3.5 minutes (building the 10^7-state world on the host
# about 100 s of it), four variants at 10^6 states 1.4 minutes, three at 10^7 states 3.4 minutes, the
# profile at 10^7 states 0.5 minutes. Worlds built once are kept in $DIPLOSIM_BENCH_WORLDS (unless set, a
# folder under /tmp, removed at the end; the 10^7-state world takes 6.5 GB of disk) and read back by the later steps.
# Run the steps apart where device time is short.
# A machine that reaches no package index but has JAX with CUDA (this workplace's lent machines):
# run with PYTHON=python3 and PYTHONPATH=src plus the missing packages, carried as wheels for that
# machine's Python (pydantic-core is compiled: a cp312 manylinux wheel there): omegaconf,
# antlr4-python3-runtime, pydantic, pydantic-core, annotated-types, typing-inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
sees_gpu() { "$1" -c "import jax, sys; sys.exit(0 if any(d.platform == 'gpu' for d in jax.devices()) else 1)" 2>/dev/null; }
if ! sees_gpu "$PYTHON"; then
    # no GPU to be seen (no driver, or none listed): stop before installing gigabytes of CUDA wheels
    listed=$( { nvidia-smi -L 2>/dev/null || true; } | grep -c '^GPU' || true)
    if [ "$listed" = 0 ]; then
        echo "gpu.sh: no NVIDIA GPU on this machine (nvidia-smi is missing or lists none); the CPU's suite is: python benchmarks/suite.py" >&2
        exit 1
    fi
    "$PYTHON" -m venv .venv-gpu
    PYTHON=.venv-gpu/bin/python
    "$PYTHON" -m pip install --quiet --upgrade pip
    "$PYTHON" -m pip install --quiet -e '.[cuda]'
    sees_gpu "$PYTHON" || { echo "gpu.sh: JAX sees no GPU even with the CUDA extra (check the NVIDIA driver: nvidia-smi)" >&2; exit 1; }
fi
if [ -z "${DIPLOSIM_BENCH_WORLDS:-}" ]; then  # a folder of our own: removed at the end (the 10^7-state world is 6.5 GB)
    DIPLOSIM_BENCH_WORLDS=$(mktemp -d)
    trap 'rm -rf "$DIPLOSIM_BENCH_WORLDS"' EXIT
fi
export DIPLOSIM_BENCH_WORLDS
"$PYTHON" benchmarks/gpu_check.py
"$PYTHON" benchmarks/suite.py --sizes 1000 10000 100000 1000000 10000000 --batches 1 100 10000 100000 "$@"
"$PYTHON" benchmarks/scatters.py
"$PYTHON" benchmarks/gathers.py
"$PYTHON" benchmarks/profile.py --states 1000000 --top 40
"$PYTHON" benchmarks/profile.py --batch 100000 --top 40
"$PYTHON" benchmarks/variants.py
"$PYTHON" benchmarks/profile.py --states 10000000 --top 40   # results/profile_gpu_10000000.md
"$PYTHON" benchmarks/variants.py --states 10000000 --variants baseline distance_every_step masks_reversed_apart trust_back_apart threats_in_rows dyads_in_pairs --rounds 2 --calls 3
