#!/usr/bin/env bash
# Host store (memory-mapped cache file, DataLoader workers reading ahead) vs device store, on a folder of N
# synthetic 32×32 PNGs: the same training run twice each, alternating; prints wall times and the test
# accuracy and NLL of each (they must be equal: the stores serve the same batches).
# Usage: benchmarks/store_cpu.sh [N images] [workers]. ~5 minutes on 2 cores.
set -euo pipefail
N=${1:-4000}
WORKERS=${2:-1}
WL=${WEAKLAB:-.venv/bin/weaklab}
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
$PY - "$DIR/imgs" "$N" <<'EOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
root, n = Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
for i in range(n):
    c = i % 10
    a = np.clip(rng.normal(40 + 18 * c, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
    (root / f"c{c}").mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(root / f"c{c}" / f"{i:05d}.png")
EOF
ARGS=(--dataset "$DIR/imgs" --data-root "$DIR/root" --method pi_model --model small_cnn --labels-per-class 40
      --epochs 3 --set train.progress=false --set model.width=16 --set train.batch_labeled=32
      --set train.batch_unlabeled=128 --set train.lr_schedule=constant --set data.workers="$WORKERS")
/usr/bin/time -f "decode to the cache file: %e s" $PY -c \
  "from weaklab.data.datasets import load_source; from weaklab.config import DataConfig; \
   print(load_source('$DIR/imgs', None, DataConfig(root='$DIR/root')).x.shape)"
for round in 1 2; do
  for store in device host; do
    /usr/bin/time -f "$store (round $round): process %e s" \
      $WL train "${ARGS[@]}" --set data.store=$store --out "$DIR/$store$round" > /dev/null
    $PY -c "import json; s = json.load(open('$DIR/$store$round/summary.json')); \
      print('$store (round $round): training wall_time_s', s['wall_time_s'], 'steps', s['steps'], 'test accuracy', s['test']['accuracy'], 'nll', s['test']['nll'])"
  done
done
