"""Reports built from MLflow alone: the leaderboard (``build``), what it reads (``data``), its
statistics (``stats``), figures (``plots``) and the self-contained HTML page (``html``)."""

from ganbench.report.build import build_report

__all__ = ["build_report"]
