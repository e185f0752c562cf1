"""Out-of-sample class probabilities by K-fold cross-validation: `weaklab crossval-probs`.

A model's probabilities on the samples it was trained on are in-sample: it has seen (and partly memorised)
their given labels. Label-quality tools (cleanlab's `pred_probs`) want out-of-sample ones. Here the training
labels are split into K folds stratified by given label; run k trains on all folds but k (fold k's samples
become unlabeled) and predicts fold k. Every labeled sample is predicted by exactly one run that never saw
its label. The K runs are ordinary run directories (resumable; a finished one is reused).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..api import Run, resume, train
from ..config import Config, resolve
from ..core.label_issues import write_label_issues
from .experiment import build_data


def crossval_probs(config: Config, folds: int, out: str | Path) -> Path:
    """Train K runs under `out`/fold{k}; write out-of-sample pred_probs and label_issues.csv into `out`."""
    out = Path(out)
    base = config.to_dict()
    full = build_data(resolve(base, {"data.cv_folds": None}), torch.device("cpu"))
    probs = np.full((len(full.train), len(full.classes)), np.nan, dtype=np.float32)
    for k in range(folds):
        run_dir = out / f"fold{k}"
        fold_config = resolve(base, {"data.cv_folds": folds, "data.cv_fold": k, "out": str(run_dir)})
        print(f"fold {k + 1}/{folds}: training on the other folds ...", flush=True)
        run: Run | None
        if (run_dir / "summary.json").is_file():
            run = Run(run_dir)
        elif (run_dir / "checkpoints" / "last.pt").is_file():
            run = resume(run_dir)
        else:
            run = train(fold_config)
        assert run is not None  # one process trains the folds
        rows = build_data(fold_config, torch.device("cpu")).held_out
        samples = full.train.x[rows]  # a device tensor, or (host store) an ndarray read from the split
        probs[rows] = run.predict_proba(samples.numpy() if torch.is_tensor(samples) else samples)
    labeled = full.supervision.labeled.numpy()
    assert full.train_index is not None  # build_data keeps each training sample's source row
    clean = None if full.noise is None or full.noise["noise"] == "given" else full.train_labels_clean.numpy()[labeled]
    path = write_label_issues(
        out,
        probs[labeled],
        full.supervision.labels.numpy()[labeled],
        list(full.classes),
        clean=clean,
        source_index=full.train_index[labeled],
        probs_name="pred_probs_out_of_sample.npy",
    )
    print(f"wrote {path} and {out / 'pred_probs_out_of_sample.npy'} ({int(labeled.sum())} samples, {folds} folds)")
    return path
