"""Supervision: what is known of each training sample, drawn from the source's labels. Labeled subsets
(labeled.py), label noise (noise.py), candidate sets (partial.py), cross-validation folds (folds.py), and the
stratified splits (splits.py); build.py assembles them for a run.

May import: weaklab.config (the allowed values of its settings), weaklab.errors, weaklab.core.task."""
