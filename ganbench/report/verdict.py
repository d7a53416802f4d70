"""One rule for a published number beside ours: met, missed, consistent, or no verdict (context, not converged).

Every place that puts our numbers beside a paper's (the report's table, the benchmarks' index, README) asks
``reference_verdict``, so no two files can disagree about the same row. It reads plain data (the published row as
the sweep file holds it, our final seeds' numbers, our protocol), so a script working from ``results.csv`` calls
it as the report does.

In order, the first that holds decides:

1. **context** (no verdict): the row has no ganbench counterpart; its dataset is not ours (PacGAN's Stacked MNIST
   beside our stacked sklearn digits); or its protocol does not record the data and the step count (VEEGAN's
   rows), so nothing says what budget our number should be held to; or we have no final runs.
2. **not converged** (no verdict): our row is not distinguishable from a generator that learned nothing
   (``ganbench.metrics.chance``): its scores are not a result to hold against anyone's.
3. **consistent**: the published mean lies inside our 95% CI. Our seeds cannot tell our number from theirs, so
   it is never called worse (or better).
4. **met**: our mean is within the row's stated tolerance of theirs, or better.
5. **missed**: our mean is worse by more than the tolerance, and their mean is outside our 95% CI.

Our protocol may differ from theirs in other ways (fewer steps): the verdict is then about our budget, and the
report lists each difference beside it (``protocol_differences``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ganbench.metrics.keys import Direction
from ganbench.report.stats import mean_ci

# What a published row's protocol must record before our number can be held to it.
RECORDED_FOR_VERDICT = ("data", "steps")


class Verdict(str, Enum):
    MET = "met"
    CONSISTENT = "consistent"
    MISSED = "missed"
    NOT_CONVERGED = "not converged"
    CONTEXT = "context"

    @property
    def judged(self) -> bool:
        """Whether this verdict compares our number with theirs (context and not converged do not)."""
        return self in (Verdict.MET, Verdict.CONSISTENT, Verdict.MISSED)


@dataclass(frozen=True)
class ReferenceVerdict:
    verdict: Verdict
    reason: str

    def __str__(self) -> str:
        """As a table cell: ``consistent (0.07 inside our 95% CI [0.056, 0.145])``."""
        return f"{self.verdict.value} ({self.reason})" if self.reason else self.verdict.value


def _number(x: float) -> str:
    return f"{x:.4g}"


def protocol_differences(reference: Mapping[str, Any], ours: Mapping[str, Any]) -> list[str]:
    """Each protocol key the published row records that differs from ours: ``steps: theirs 400000, ours 10000``."""
    return [f"{key}: theirs {value}, ours {ours.get(key)}" for key, value in (reference.get("protocol") or {}).items()
            if key in ours and str(value) != str(ours[key])]


def unrecorded(reference: Mapping[str, Any]) -> list[str]:
    """The protocol keys a verdict needs that the published row does not record."""
    protocol = reference.get("protocol") or {}
    return [key for key in RECORDED_FOR_VERDICT if protocol.get(key) is None]


def reference_verdict(reference: Mapping[str, Any], ours: Sequence[float], direction: Direction | None,
                      our_protocol: Mapping[str, Any], not_converged: str | None = None) -> ReferenceVerdict:
    """The verdict on one published row (``mean``, ``tolerance``, ``value``, ``protocol``, ``note`` as the sweep
    file's ``reference:`` holds them) against our final seeds' numbers ``ours`` for its metric. ``direction`` is the
    metric's (None: no registered metric says which way is better); ``our_protocol`` holds our ``data``, ``steps``
    and the other ``REFERENCE_PROTOCOL_KEYS``; ``not_converged`` is why our row is not a result, if it is not."""
    if reference.get("value") is None:
        return ReferenceVerdict(Verdict.CONTEXT, reference.get("note") or "no ganbench counterpart")
    theirs_data, our_data = (reference.get("protocol") or {}).get("data"), our_protocol.get("data")
    if theirs_data is not None and our_data is not None and str(theirs_data) != str(our_data):
        return ReferenceVerdict(Verdict.CONTEXT, f"another dataset: theirs {theirs_data}, ours {our_data}")
    missing = unrecorded(reference)
    if missing:
        return ReferenceVerdict(Verdict.CONTEXT, f"their protocol records no {' or '.join(missing)}")
    values = [float(v) for v in ours if not math.isnan(float(v))]
    if not values:
        return ReferenceVerdict(Verdict.CONTEXT, "no final runs")
    if not_converged:
        return ReferenceVerdict(Verdict.NOT_CONVERGED, not_converged)
    theirs, tolerance, mean = float(reference["mean"]), float(reference["tolerance"]), statistics.mean(values)
    low, high = mean_ci(values)[0]
    if low <= theirs <= high:  # False for NaN bounds (fewer than 2 seeds)
        return ReferenceVerdict(Verdict.CONSISTENT,
                                f"{_number(theirs)} inside our 95% CI [{_number(low)}, {_number(high)}]")
    gap = mean - theirs
    if abs(gap) <= tolerance:
        return ReferenceVerdict(Verdict.MET, f"within ±{_number(tolerance)}")
    if direction is None:
        return ReferenceVerdict(Verdict.CONTEXT, "outside the tolerance, and no metric says which way is better")
    interval = "" if math.isnan(low) else f" and our 95% CI [{_number(low)}, {_number(high)}]"
    if direction.better(gap, 0.0):
        return ReferenceVerdict(Verdict.MET, f"better by {_number(abs(gap))}")
    return ReferenceVerdict(Verdict.MISSED, f"worse by {_number(abs(gap))}: outside ±{_number(tolerance)}{interval}")
