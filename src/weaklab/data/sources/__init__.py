"""Sources: every dataset (standard benchmarks with checked downloads, the embedded sets, users' files and folders)
becomes one `ArraySource` (source.py); `datasets.load_source` is the one entry.

May import: weaklab.errors and weaklab.data.store.rows (lazy rows of memory-mapped files)."""
