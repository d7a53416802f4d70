"""Sweep records built in memory (no MLflow, no Ray): final seeds with chosen numbers, for the report's rules."""

from __future__ import annotations

from typing import Any

from ganbench.report.data import SweepRecord
from ganbench.sweep.study import Study
from ganbench.tracking.record import Outcome, TrialRecord


def study(**keys: Any) -> Study:
    """A study as the report rebuilds it from a parent run's studies.json."""
    return Study.described({"name": "s", "metric": "reverse_kl", "mode": "min", "seeds": 10,
                            "scientific": {"loss.name": ["non_saturating"], "model.pack": [1, 2]}, **keys})


def finals(value: str, metrics: dict[str, list[float]], params: dict[str, str] | None = None,
           stage: str = "final") -> list[TrialRecord]:
    """One completed trial per seed of ``value``, seed i holding ``metrics[key][i]`` as its final evaluation."""
    seeds = len(next(iter(metrics.values())))
    return [TrialRecord(f"{value}-{stage}-{i}", "s", value, stage, i, Outcome.COMPLETED,
                        params={"data.name": "grid25", "train.steps": "10000", "eval.final_n_samples": "2500",
                                "loss.name": "non_saturating", **(params or {})},
                        metrics={(key if key.startswith("final_") else f"final_eval_{key}"): values[i]
                                 for key, values in metrics.items()}, start_time=i)
            for i in range(seeds)]


def record(of: Study, trials: list[TrialRecord], benchmark: dict[str, Any] | None = None) -> SweepRecord:
    return SweepRecord("s", None, {"run_id": "parent", "params": {}}, [of], trials, benchmark or {})  # type: ignore[arg-type]


def spread(mean: float, std: float, n: int = 10) -> list[float]:
    """``n`` numbers with exactly this mean and sample standard deviation."""
    import statistics

    base = [float(i) for i in range(n)]
    m, s = statistics.mean(base), statistics.stdev(base)
    return [mean + (x - m) * std / s for x in base]
