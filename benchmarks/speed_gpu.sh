#!/usr/bin/env bash
# The GPU measurements of issue #21 ("The GPU fast path, measured"), sized for one lent GPU (H100 or H200, 16 CPU
# cores) and 8 minutes of wall time, set-up included. For each configuration, in one run: weaklab's steps/s and
# ms/step, the usual per-sample DataLoader pipeline (bench/usual.py) with 16 workers and with 1, the data +
# augmentation share of weaklab's step, and the FLOPs of a step as a fraction of the device's dense bf16 peak.
# Usage, from the repository root: benchmarks/speed_gpu.sh [--dry-run] [BENCHMARKS.md]
#   --dry-run  print each step's command and predicted time, and the total, and run nothing (works without a GPU)
#   FILE       the Markdown file whose speed table gets the rows (default: $BENCH_MD, else BENCHMARKS.md)
# Runs from the source tree (PYTHONPATH=src python3 -m weaklab: no install; WEAKLAB=... for another command) with
# the JSON records under $RECORDS (default runs/bench-speed). Nothing else may use the GPU meanwhile.
# Left out to fit the 8 minutes: CNN-13 and Π, fp32, --compile, the host store, UCVME, and the precision check
# (`weaklab bench precision --device cuda --write BENCHMARKS.md`: 27 digits trainings, minutes on their own).
set -euo pipefail
DRY=0
if [[ ${1:-} == --dry-run ]]; then
  DRY=1
  shift
fi
W=${1:-${BENCH_MD:-BENCHMARKS.md}}
RECORDS=${RECORDS:-runs/bench-speed}
WL=${WEAKLAB:-python3 -m weaklab}
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
BUDGET_S=480

# What each run does, in steps: weaklab: warm-up, the timed windows, one host-sync check, the profiling pass and
# one FLOP count; the usual pipeline, once per worker count: warm-up, the timed windows, then as many batches again
# with no model ("data alone"). --device cuda: fails at once where there is no GPU, rather than hours on the CPU.
WARMUP=5 WINDOWS=3 STEPS=20 PROFILE=5
FEW="--device cuda --warmup $WARMUP --windows $WINDOWS --steps $STEPS --profile-steps $PROFILE --workers 16 1"
WL_STEPS=$((WARMUP + WINDOWS * STEPS + 1 + PROFILE + 1))
USUAL_STEPS=$((WARMUP + 2 * WINDOWS * STEPS))
# Start-up of one command (Python and torch, the CUDA context, model and data, cuDNN's first calls, 21 DataLoader
# worker processes): an assumption, as are the per-step times given with each step below.
STARTUP_S=40

# predict WEAKLAB_MS USUAL16_MS USUAL1_MS: predicted seconds of one run from the assumed ms per step of weaklab and
# of the usual pipeline with 16 workers and with 1. The last is bound by its one worker's PIL transforms: measured
# on a 2-core VM at about 5,000 samples/s for Mean Teacher's views, 3,300 for FixMatch's and 2,900 for PL-CR's,
# assumed at half that here; the GPU step times are guesses well above a WRN-28-2 step's FLOPs at the bf16 peak.
predict() {
  echo $(((STARTUP_S * 1000 + WL_STEPS * $1 + USUAL_STEPS * ($2 + $3) + 999) / 1000))
}

N=0 TOTAL=0
step() { # step SECONDS COMMAND...: print the command and its predicted time; run it unless --dry-run
  local seconds=$1 command
  shift
  N=$((N + 1)) TOTAL=$((TOTAL + seconds))
  command=$(printf '%q ' "$@")
  echo "[$N] predicted ${seconds} s: PYTHONPATH=$PYTHONPATH ${command% }"
  if ((!DRY)); then
    local start=$SECONDS
    "$@"
    echo "[$N] took $((SECONDS - start)) s (predicted ${seconds} s)"
  fi
}

# Mean Teacher on WRN-28-2 at 64+448 (the target: data + augmentation under 5 % of the step, at least 10×
# the usual pipeline), bf16 + channels_last (the CUDA default). Teacher forward + student forward and backward.
step "$(predict 50 50 200)" $WL bench speed --method mean_teacher --model wrn28_2 --batch 64+448 --image-size 32 \
  $FEW --out "$RECORDS" --write "$W"
# FixMatch on WRN-28-2 at 64 + 7·64: weak views of both batches and a RandAugment + Cutout view of the unlabeled
# one, the CIFAR recipe's weak view (recipes/cifar10-40-fixmatch.yaml: pad-crop 4, flip, no noise).
step "$(predict 80 80 300)" $WL bench speed --method fixmatch --model wrn28_2 --batch 64+448 --image-size 32 \
  $FEW --out "$RECORDS" --write "$W" --set views.translate=4 --set views.noise=0
# PL-CR (one weak, two strong views) on WRN-28-2 at 64, with the CIFAR PL-CR recipe's views (pad-crop 4, flip,
# AutoAugment CIFAR-10 + Cutout 16), as in benchmarks/speed_cpu.sh.
step "$(predict 30 30 50)" $WL bench speed --method plcr --model wrn28_2 --batch 64 --image-size 32 \
  $FEW --out "$RECORDS" --write "$W" \
  --set views.translate=4 --set views.noise=0 --set views.strong=autoaugment_cifar10 --set views.cutout=16

echo "predicted total: ${TOTAL} s ($((TOTAL / 60)) min $((TOTAL % 60)) s) of ${BUDGET_S} s"
if ((DRY && TOTAL > BUDGET_S)); then # a guard for whoever adds a step here
  echo "the steps above are predicted to take longer than ${BUDGET_S} s: trim them" >&2
  exit 1
elif ((!DRY)); then
  echo "took ${SECONDS} s in all; rows written to $W"
fi
