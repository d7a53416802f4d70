"""Sweeps: sweep files (``study``: their types; ``spec``: parsing and checks; ``budgets``; ``references``), the
one rule trials are judged by (``judge``), the driver that runs them stage by stage (``driver``),
Ray behind two adapters (``ray_cluster``: Ray core; ``tuner``: Ray Tune with Optuna and ASHA), each
trial's bookkeeping (``trial``), what a stage produced (``results``), published benchmarks
(``benchmarks``), the sweep's state under --storage (``state``), trials a killed driver left behind
(``recovery``), and the faults a person causes: Ctrl-C and SIGTERM (``interrupts``), a second driver
(``lock``), a full disk (``disk_full``); and the CPU kernels a sweep computes with (``cpu_kernels``).

The public surface is these modules. Nothing is imported here: ``spec`` must stay cheap for the
report and ``--plan``, while ``tuner`` imports Ray and Optuna.
"""

__all__ = ["benchmarks", "budgets", "cpu_kernels", "disk_full", "driver", "interrupts", "judge", "lock", "ray_cluster",
           "recovery", "references", "results", "spec", "state", "study", "trial", "tuner"]
