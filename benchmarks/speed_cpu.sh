#!/usr/bin/env bash
# The CPU speed measurements of BENCHMARKS.md ("Speed"), in one go (~25 minutes on 2 cores; one UCVME ResNet-18
# step at 32+32, 200×200 takes about 40 s).
# Usage: benchmarks/speed_cpu.sh [BENCHMARKS.md]. Needs a quiet machine: nothing else running.
set -euo pipefail
W=${1:-BENCHMARKS.md}
WL=${WEAKLAB:-.venv/bin/weaklab}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# Few steps per configuration: one step of CNN-13 at 64+448 takes seconds on 2 cores.
FEW="--warmup 1 --windows 3 --steps 1 --profile-steps 1 --workers 2"
# The target configuration with more windows: a CPU step here wanders by about 20 % between windows.
$WL bench speed --method mean_teacher --model wrn28_2 --batch 64+448 --image-size 32 $FEW --write "$W" \
  --warmup 3 --windows 5
$WL bench speed --method pi_model --model wrn28_2 --batch 64+448 --image-size 32 $FEW --write "$W"
for method in mean_teacher pi_model; do
  $WL bench speed --method $method --model cnn13 --batch 64+448 --image-size 32 $FEW --write "$W"
done
# PL-CR, 3 views (1 weak + 2 strong), with the CIFAR recipe's views (recipes/cifar10-plcr-q0.3.yaml): pad-crop 4,
# flip, AutoAugment CIFAR-10 policy + Cutout 16 on the strong views; the usual pipeline makes the same views with
# PIL. PL-CR reads one stream of every sample, 64 a step (the paper's batch).
$WL bench speed --method plcr --model wrn28_2 --batch 64 --image-size 32 $FEW --write "$W" \
  --set views.translate=4 --set views.noise=0 --set views.strong=autoaugment_cifar10 --set views.cutout=16
# UCVME (regression targets, chosen for it) on ResNet-18 at 200×200 with the UTKFace recipe's views
# (recipes/utkface-ucvme.yaml: pad-crop 5, flip, no noise); its step holds T = 5 no-grad passes of both networks.
$WL bench speed --method ucvme --model resnet18 --batch 32+32 --image-size 200 $FEW --write "$W" \
  --set views.translate=5 --set views.noise=0
# Mean Teacher on WRN-28-2 again: in bf16 autocast (this CPU has AMX bf16 units), and from the host store
# (a memory-mapped file, read ahead by DataLoader workers).
$WL bench speed --method mean_teacher --model wrn28_2 --batch 64+448 --image-size 32 $FEW --precision bf16 --write "$W"
$WL bench speed --method mean_teacher --model wrn28_2 --batch 64+448 --image-size 32 $FEW --store host --write "$W"
