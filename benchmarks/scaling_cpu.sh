#!/usr/bin/env bash
# CPU data-parallel scaling and torch.compile, measured with `weaklab bench speed` (docs/SCALING.md).
# One process on 1 and 2 threads, then torchrun with 2 gloo processes of 1 thread each; then compile on/off.
set -euo pipefail
W=${1:-BENCHMARKS.md}
BIN=${BIN:-.venv/bin}
ARGS="--method mean_teacher --model wrn28_2 --batch 16+112 --image-size 32 --warmup 1 --windows 2 --steps 1 --profile-steps 1 --no-usual"
OMP_NUM_THREADS=1 $BIN/weaklab bench speed $ARGS --out runs/bench-scaling/p1t1 --write "$W"
OMP_NUM_THREADS=2 $BIN/weaklab bench speed $ARGS --out runs/bench-scaling/p1t2 --write "$W"
OMP_NUM_THREADS=1 $BIN/torchrun --nproc-per-node 2 --master-addr 127.0.0.1 --master-port 29561 --no-python \
  $BIN/weaklab bench speed $ARGS --out runs/bench-scaling/p2t1 --write "$W"
OMP_NUM_THREADS=2 $BIN/weaklab bench speed $ARGS --compile --out runs/bench-scaling/compile --write "$W"
