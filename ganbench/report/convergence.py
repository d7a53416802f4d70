"""What chance scores beside a 2-D study's leaderboard, and which of its rows are not a result.

A 2-D study (its runs report ``hq_fraction``) carries a reference row: points uniform over the bounding box of the
data's training points, scored by the same metric code on the final evaluation's sample count
(``ganbench.metrics.chance.uniform_scores``). A row whose final seeds' mean high-quality fraction is under
``MIN_HQ_FRACTION``, or whose mean final D loss sits at chance, is flagged "not converged": it stays in the table,
but no published row gets a verdict against it (``ganbench.report.verdict``) and no baseline test calls it better
or worse.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.metrics.chance import (
    D_LOSS_CHANCE_TOLERANCE,
    MIN_HQ_FRACTION,
    REFERENCE_DRAWS,
    not_converged_reason,
    uniform_scores,
)
from ganbench.report.data import SweepRecord
from ganbench.sweep.judge import Judge
from ganbench.sweep.study import Study

HQ_KEY = "hq_fraction"  # what a 2-D mixture's runs report (modes2d); its presence makes a study 2-D
D_LOSS_KEY = "d_loss"

RULE = (f"A row is **not converged** when its final seeds' mean high-quality fraction is below {MIN_HQ_FRACTION:.0%} "
        f"or its mean final D loss is within {D_LOSS_CHANCE_TOLERANCE} of chance (2 ln 2 for the non-saturating and "
        "minimax losses): such a generator is not distinguishable from one that learned nothing, so no published row "
        "gets a verdict against it, and no test calls it better or worse than the baseline.")


def _final_trials(record: SweepRecord, study: Study, value: str) -> list:
    return [t for t in record.trials_of(study, "final", value) if Judge.counts(t.outcome)]


def is_two_dimensional(record: SweepRecord, study: Study) -> bool:
    """Whether the study's runs report PacGAN's 2-D scores (a mixture of Gaussians)."""
    return any(HQ_KEY in key for t in record.trials_of(study) for key in t.metrics)


def not_converged(record: SweepRecord, study: Study, value: str) -> str | None:
    """Why a compared value's final seeds are not a result (``ganbench.metrics.chance.not_converged_reason`` on their
    means), or None: also None for a value without final seeds, or a study that is not 2-D."""
    finals = _final_trials(record, study, value)
    judge = study.judge
    hq = [v for t in finals if (v := judge.final_worth(t.metrics, HQ_KEY)) is not None]
    if not hq:
        return None
    d_losses = [v for t in finals if (v := judge.final_worth(t.metrics, D_LOSS_KEY)) is not None]
    loss_name = str(finals[0].params.get("loss.name", ""))
    return not_converged_reason(statistics.mean(hq), statistics.mean(d_losses) if d_losses else None, loss_name)


@dataclass(frozen=True)
class ChanceRow:
    """The uniform reference of a 2-D study: each score's mean and std over seeded draws, and how it was made."""

    dataset: str
    n_samples: int
    draws: int
    scores: dict[str, float]

    @property
    def not_converged(self) -> str | None:
        """The rule's verdict on uniform noise itself: it must say not converged, or the rule is too weak."""
        return not_converged_reason(self.scores.get(HQ_KEY, float("nan")))

    def mean_std(self, key: str) -> tuple[float, float] | None:
        if key not in self.scores:
            return None
        return self.scores[key], self.scores.get(f"{key}_std", float("nan"))


def chance_row(record: SweepRecord, study: Study) -> ChanceRow | None:
    """The uniform reference row of a 2-D study, on its final evaluation's sample count; None for other studies."""
    if not is_two_dimensional(record, study):
        return None
    finals = record.trials_of(study, "final") or record.trials_of(study)
    params = finals[0].params
    name = params.get("data.name") or study.fixed.get("data.name")
    overrides = [f"data.name={name}"] + ([f"data.size={params['data.size']}"] if params.get("data.size") else [])
    dataset = DATASETS.get(name)(load_config(overrides=overrides))
    n = int(float(params.get("eval.final_n_samples") or params.get("eval.n_samples") or 2500))
    return ChanceRow(name, n, REFERENCE_DRAWS, uniform_scores(dataset, n))
