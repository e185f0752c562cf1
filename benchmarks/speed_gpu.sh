#!/usr/bin/env bash
# The GPU measurements the speed issue asks for, in one go (BENCHMARKS.md "Speed" and "Precision").
# Usage: benchmarks/speed_gpu.sh [BENCHMARKS.md], on a machine with one CUDA GPU and weaklab installed
# (`pip install -e .`; WEAKLAB=... to point at another binary). Nothing else may use the GPU meanwhile.
# Not yet run: no GPU has been lent to this project's sessions so far.
set -euo pipefail
W=${1:-BENCHMARKS.md}
WL=${WEAKLAB:-weaklab}
FEW="--warmup 5 --windows 5 --steps 20 --profile-steps 10"
# Mean Teacher and Π on WRN-28-2 and CNN-13 at 64+448 (the target: MT on WRN-28-2, data + augmentation
# under 5 % of the step, at least 10x the usual per-sample DataLoader pipeline), bf16 + channels_last (default).
for model in wrn28_2 cnn13; do
  for method in mean_teacher pi_model; do
    $WL bench speed --method $method --model $model --batch 64+448 --image-size 32 $FEW --write "$W"
  done
done
# The same target configuration in fp32 (what bf16 + channels_last buy), compiled, and compiled with CUDA graphs.
$WL bench speed --method mean_teacher --model wrn28_2 --batch 64+448 --image-size 32 $FEW --precision fp32 --write "$W"
$WL bench speed --method mean_teacher --model wrn28_2 --batch 64+448 --image-size 32 $FEW --compile --write "$W"
$WL bench speed --method mean_teacher --model wrn28_2 --batch 64+448 --image-size 32 $FEW --compile \
  --set train.compile_mode=reduce-overhead --write "$W"
# PL-CR (three views: one weak, two strong) on WRN-28-2; UCVME (two ResNet-18 with MC dropout) at 32+32, 200x200.
# The views are those of the CIFAR PL-CR and UTKFace UCVME recipes, as in benchmarks/speed_cpu.sh.
$WL bench speed --method plcr --model wrn28_2 --batch 64 --image-size 32 $FEW --write "$W" \
  --set views.translate=4 --set views.noise=0 --set views.strong=autoaugment_cifar10 --set views.cutout=16
$WL bench speed --method ucvme --model resnet18 --batch 32+32 --image-size 200 $FEW --write "$W" \
  --set views.translate=5 --set views.noise=0
# The host store (memory-mapped file, workers reading ahead into pinned memory) on the target configuration.
$WL bench speed --method mean_teacher --model wrn28_2 --batch 64+448 --image-size 32 $FEW --store host --write "$W"
# Do bf16 and channels_last change results? Same methods and seeds in fp32 / bf16 / bf16 + channels_last.
$WL bench precision --device cuda --out runs/bench-precision-cuda --write "$W"
