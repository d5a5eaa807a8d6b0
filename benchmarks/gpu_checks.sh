#!/usr/bin/env bash
# The GPU checks, in one script for a lent GPU machine (the `device` tool runs it in the repository root):
#   1. the GPU tests (pytest -m gpu),  2. benchmarks/bench_gpu_epoch.py (D&C torch engine, 400 and 1600 neurons),
#   3. benchmarks/bench_gpu_conv.py (conv network: batched forward and exact batched R-STDP against numba),
#   4. optional (GPU_CONV_PASSES=N): the conv network on full MNIST with the torch path for N R-STDP passes.
# Each step writes its output under ${OUT:-gpu_out}/ and a failing step does not stop the others.
# Data: ${SPINSYN_MNIST_DIR:-shared/data/mnist}. Setup: scripts/_setup.sh (idempotent).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-gpu_out}"
mkdir -p "$OUT"
DATA="${SPINSYN_MNIST_DIR:-$PWD/shared/data/mnist}"
[ -d "$DATA" ] || DATA="$PWD/../shared/data/mnist"
source scripts/_setup.sh >"$OUT/setup.log" 2>&1 || { echo "setup failed: $OUT/setup.log"; exit 1; }
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
step() {  # step NAME COMMAND...: run, keep the output, print one status line
    local name=$1; shift
    local t0=$SECONDS
    "$@" >"$OUT/$name.log" 2>&1
    echo "$name: exit $? in $((SECONDS - t0)) s ($OUT/$name.log)"
}
step gpu_tests "$PY" -m pytest -q -m gpu -p no:cacheprovider
step bench_gpu_epoch "$PY" benchmarks/bench_gpu_epoch.py --neurons 400 1600 --device cuda --data-dir "$DATA" \
    --json-out "$OUT/bench_gpu_epoch.json"
step bench_gpu_conv "$PY" benchmarks/bench_gpu_conv.py --device cuda --data-dir "$DATA" \
    --json-out "$OUT/bench_gpu_conv.json"
if [ -n "${GPU_CONV_PASSES:-}" ]; then
    step conv_accuracy "$PY" benchmarks/conv_accuracy.py --device cuda --n-train 60000 --n-test 10000 \
        --conv-epochs "2,4,$GPU_CONV_PASSES" --test-every 10 --synapse "${GPU_CONV_SYNAPSE:-ideal}" --seed 0 \
        --data-dir "$DATA" --minutes "${GPU_CONV_MINUTES:-6}" --out "$OUT/conv_accuracy"
fi
tail -n 3 "$OUT"/*.log
