"""Sweeps: sweep files (``study``: their types; ``spec``: parsing and checks; ``budgets``; ``references``), the
one rule trials are judged by (``judge``), the driver that runs them stage by stage (``driver``),
Ray behind two adapters (``ray_cluster``: Ray core; ``tuner``: Ray Tune with Optuna and ASHA), each
trial's bookkeeping (``trial``), what a stage produced (``results``) and published benchmarks
(``benchmarks``).

The public surface is these modules. Nothing is imported here: ``spec`` must stay cheap for the
report and ``--plan``, while ``tuner`` imports Ray and Optuna.
"""

__all__ = ["benchmarks", "budgets", "driver", "judge", "ray_cluster", "references", "results", "spec", "study", "trial",
           "tuner"]
