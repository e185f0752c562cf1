"""Benchmarks: each module runs one table's grid of trainings through the public API and writes its Markdown
section with report.py (`weaklab bench ...`, `weaklab demo`). Nothing in training imports this package.

May import: anything in weaklab."""
