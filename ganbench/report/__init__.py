"""Reports built from MLflow alone: what it reads (``data``), the leaderboard and its comparisons
(``leaderboard``), published numbers beside ours (``references``), its statistics (``stats``), figures
(``plots``), the self-contained HTML page (``html``), and the page assembled (``build``)."""

from ganbench.report.build import build_report

__all__ = ["build_report"]
