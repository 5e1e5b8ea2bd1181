#!/usr/bin/env bash
# The CUDA checks as one short script, for a machine that has a GPU:
# tests/core/test_cuda.py (correctness on the device) and bench/cuda_probe.py
# (probe against a plain forward, and how often the host waits in one probed
# run). Without CUDA both say so and the script ends with status 0.
#
#   bench/cuda_check.sh            # from the repository root
#   PYTHON=.venv/bin/python OUT=/some/dir bench/cuda_check.sh
#
# Writes cuda_tests.txt and cuda_probe.md into $OUT (default: bench/), and
# prints both; the exit status is the tests'.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT_DIR=${OUT:-bench}
mkdir -p "$OUT_DIR"
"$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "available:", torch.cuda.is_available())'
QT_QPA_PLATFORM=offscreen timeout 300 "$PY" -m pytest tests/core/test_cuda.py -q -p no:cacheprovider -rs \
    > "$OUT_DIR/cuda_tests.txt" 2>&1
tests=$?
cat "$OUT_DIR/cuda_tests.txt"
timeout 300 "$PY" -m bench.cuda_probe > "$OUT_DIR/cuda_probe.md" 2>&1
bench=$?
cat "$OUT_DIR/cuda_probe.md"
[ "$bench" -eq 0 ] || echo "bench/cuda_probe.py ended with status $bench"
exit "$tests"
