#!/usr/bin/env bash
# The CPU speed measurements of BENCHMARKS.md ("Speed"), in one go (~10 minutes on 2 cores).
# Usage: benchmarks/speed_cpu.sh [BENCHMARKS.md]. Needs a quiet machine: nothing else running.
set -euo pipefail
W=${1:-BENCHMARKS.md}
WL=${WEAKLAB:-.venv/bin/weaklab}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# Few steps per configuration: one step of CNN-13 at 64+448 takes seconds on 2 cores.
FEW="--warmup 1 --windows 3 --steps 1 --profile-steps 1 --workers 2"
for model in wrn28_2 cnn13; do
  for method in mean_teacher pi_model; do
    $WL bench speed --method $method --model $model --batch 64+448 --image-size 32 $FEW --write "$W"
  done
done
