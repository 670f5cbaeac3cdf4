#!/usr/bin/env bash
# The whole accelerator check in one script (< 8 minutes on one recent GPU), run from the repository root:
#
#   bash benchmarks/device_check.sh [OUTDIR]        # default OUTDIR: benchmarks/results/device
#
# Needs a CUDA (or TPU) build of jax in the active Python environment (`pip install -U "jax[cuda12]"`); on a
# CPU-only machine it still runs, slowly, and says so. Stages (each bounded by `timeout`; a failed stage is
# recorded and the next one runs):
#   1. devices     jax.devices(), nvidia-smi
#   2. tests       the tests that make sense on an accelerator: per-backend convolution resolution and every
#                  formulation against lax (tests/test_layers.py), bfloat16 train steps of every family
#                  (tests/test_precision.py), sharded init (tests/test_sharding.py); float32 comparisons at
#                  JAX_DEFAULT_MATMUL_PRECISION=highest (GPUs default to TF32 for float32 convolutions)
#   3. throughput  every reference config (partial JSON survives a stage timeout: one record per config) (the families' BENCHMARK_CONFIGS) in float32 and bfloat16: ms/step,
#                  FLOPs, FLOP/s, fraction of the device's peak; sampling with DDIM 20 steps and Langevin 60 steps
#   4. conv        lax vs matmul formulations on the device: the reference autoencoder step for each
#                  combination (conv_formulations.py) and two conv-heavy configs with model.conv_impl=matmul
# Writes OUTDIR/*.json and OUTDIR/device_check.log.
set -u
cd "$(dirname "$0")/.."
OUT="${1:-benchmarks/results/device}"
mkdir -p "$OUT"
LOG="$OUT/device_check.log"
: > "$LOG"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export JAXGEN_COMPILATION_CACHE="${JAXGEN_COMPILATION_CACHE:-off}"   # measure cold compiles
START=$(date +%s)
BUDGET=${DEVICE_CHECK_BUDGET_S:-460}     # stop starting stages after this many seconds

stage() {  # stage NAME TIMEOUT_S COMMAND...: runs one bounded stage, logs it, never aborts the script
  local name=$1 limit=$2; shift 2
  local used=$(( $(date +%s) - START ))
  if (( used + 10 > BUDGET )); then
    echo "== $name: skipped (budget of ${BUDGET}s used: ${used}s)" | tee -a "$LOG"; return
  fi
  (( limit > BUDGET - used )) && limit=$(( BUDGET - used ))
  echo "== $name (limit ${limit}s, at ${used}s)" | tee -a "$LOG"
  local t0=$(date +%s)
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >> "$LOG" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $(( $(date +%s) - t0 ))s" | tee -a "$LOG"
}

stage devices 60 bash -c 'python -c "import jax; print(jax.__version__, jax.default_backend(), jax.devices())";
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv 2>/dev/null || true'

stage tests 90 env JAX_DEFAULT_MATMUL_PRECISION=highest python -m pytest -q -x -p no:cacheprovider \
  tests/test_layers.py tests/test_precision.py tests/test_sharding.py

stage throughput_f32 140 python benchmarks/throughput.py --reference --noisolate --dtype=float32 --windows=3 --warmup=2 \
  --sample_steps=ebm=60,diffusion=20 --json="$OUT/throughput_float32.json"
stage throughput_bf16 140 python benchmarks/throughput.py --reference --noisolate --dtype=bfloat16 --windows=3 --warmup=2 \
  --sample_steps=ebm=60,diffusion=20 --json="$OUT/throughput_bfloat16.json"

stage conv_formulations 40 python benchmarks/conv_formulations.py --quick --no-flags \
  --out="$OUT/conv_formulations.json"
stage conv_matmul_configs 50 python benchmarks/throughput.py --noisolate --configs=ddm_flowers,dcgan_lego \
  --conv_impl=matmul --windows=3 --warmup=2 --sample_steps=diffusion=20 --json="$OUT/throughput_conv_matmul.json"

echo "done in $(( $(date +%s) - START ))s; results in $OUT" | tee -a "$LOG"
ls -l "$OUT" | tee -a "$LOG"
