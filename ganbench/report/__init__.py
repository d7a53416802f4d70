"""Reports built from MLflow alone: what it reads (``data``), the leaderboard and its comparisons
(``leaderboard``), published numbers beside ours (``references``) judged by one rule (``verdict``), what chance
scores and which rows are not a result (``convergence``), what the search was (``search``), which generator was
scored (``selection``), its statistics (``stats``), figures (``plots``), the self-contained HTML page (``html``),
and the page assembled (``build``).

The public surface is what other places that state results call, so that they say what the report says: the
benchmarks' index and README judge a published row with ``reference_verdict``, and ``--plan`` names the search with
``search_method``.
"""

from ganbench.report.build import build_report
from ganbench.report.search import is_random_search, search_method
from ganbench.report.verdict import ReferenceVerdict, Verdict, protocol_differences, reference_verdict

__all__ = ["ReferenceVerdict", "Verdict", "build_report", "is_random_search", "protocol_differences",
           "reference_verdict", "search_method"]
