#!/usr/bin/env bash
# Issue 26's checks that need a GPU, as one call of the device tool (docs/sampler.md, "On a GPU:
# the checks, prepared"; never run on a GPU yet). Here, first: `make gpu-pack` (the folder .gpu).
# Then: run(command="bash benchmarks/gpu_checks.sh", carry=[".gpu"], timeout_s=540): the JSON
# files come back from $OUT. DEVICE=cpu PARTICLES="1 2" THROUGHPUT="1 4" TOKENS=4 HOST=16 HELPERS=2
# PY=.venv/bin/python runs the same plumbing on this project's CPU machine (about 2 minutes).
set -euo pipefail
OUT=${OUT:-/tmp/awrs-gpu-out}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
PARTICLES=${PARTICLES:-1 2 4 8 16 32 64}
THROUGHPUT=${THROUGHPUT:-1 4 16 64 256}
TOKENS=${TOKENS:-32}
HOST=${HOST:-64 256}
HELPERS=${HELPERS:-7}
mkdir -p "$OUT"
export PYTHONPATH=$PWD AWRS_CACHE_DIR=${AWRS_CACHE_DIR:-/tmp/awrs-cache}
"$PY" -c "import lark" 2>/dev/null || "$PY" -m pip install -q --no-index --no-deps --find-links .gpu/wheels lark
{
  date -u
  nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import torch, transformers, numba, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__)"
  nproc
} 2>&1 | tee "$OUT/device.txt"
# The device path's statistical tests with their rows on the device.
AWRS_TEST_DEVICE=$DEVICE "$PY" -m pytest -q -p no:cacheprovider tests/sampler/test_device.py -m "not model" 2>&1 | tail -3 | tee -a "$OUT/device.txt"
# awrs's own time per step: the host path and the device path, rows on the device.
# shellcheck disable=SC2086
"$PY" benchmarks/particle_throughput.py --device "$DEVICE" --folder .gpu/model --particles $THROUGHPUT --repeats 2 \
  --out "$OUT/particle_throughput_$DEVICE.json" 2>&1 | tail -20
# SMC step time against N with models of real size (random weights): the default model's shape, and Llama 3.2 1B's.
# shellcheck disable=SC2086
"$PY" benchmarks/smc_scaling.py --shape smollm2-135m --folder .gpu/model --device "$DEVICE" --particles $PARTICLES \
  --tokens "$TOKENS" --out "$OUT/smc_scaling_${DEVICE}_135m.json" 2>&1 | tail -12
# shellcheck disable=SC2086
"$PY" benchmarks/smc_scaling.py --shape llama-1b --folder .gpu/model --device "$DEVICE" --dtype bfloat16 --particles $PARTICLES \
  --tokens "$TOKENS" --out "$OUT/smc_scaling_${DEVICE}_1b.json" 2>&1 | tail -12
# The host path on this machine's cores: the kept distributions made by one thread beside the
# walks against every core's (proposal.KEPT_HELPERS), in one run each.
for helpers in 1 "$HELPERS"; do
  # shellcheck disable=SC2086
  "$PY" benchmarks/particle_throughput.py --folder .gpu/model --particles $HOST --repeats 2 --helpers "$helpers" \
    --out "$OUT/particle_throughput_host_helpers$helpers.json" 2>&1 | tail -9
done
