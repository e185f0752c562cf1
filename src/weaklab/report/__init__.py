"""Results as one self-contained HTML file (`weaklab report`, `weaklab bench ... --html`): figures inlined as
base64 PNG, styles inline, no script and no link outside the file, so it opens offline and can be mailed.

collect.py reads run directories as they are on disk; recompute.py rebuilds, through the Python API, what a run
directory does not hold (test predictions, the training samples of a label-issue gallery, candidate sets) where
that is cheap; panels.py draws the figures; run_view.py is one run's section, compare.py the table and overlaid
curves of several; html.py the HTML pieces, markdown.py the benchmark tables' Markdown; page.py the whole page.

Imports: any weaklab module (it sits beside bench/, after api.py); nothing but the CLI imports this package.
"""

from .page import write_bench_page, write_report

__all__ = ["write_bench_page", "write_report"]
