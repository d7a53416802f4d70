"""One verdict rule for a published row (``ganbench.report.verdict``), and the report's table that uses it: the cases
the committed reports got wrong (issue 23) and the not-converged rows (issue 22)."""

from __future__ import annotations

import pytest

from ganbench.metrics.keys import Direction
from ganbench.report.references import reference_lines
from ganbench.report.stats import t_interval
from ganbench.report.verdict import Verdict, reference_verdict
from tests.report.records import finals, record, spread, study

GRID25 = {"data": "grid25", "steps": 400000, "n_samples": 2500, "batch_size": 100}
OURS = {"data": "grid25", "steps": 10000, "n_samples": 2500, "batch_size": 100}


def published(metric: str, mean: float, tolerance: float, value: str | None = "non_saturating,1",
              protocol: dict | None = None, **extra) -> dict:
    return {"source": "PacGAN Table 1", "row": "GAN", "value": value, "metric": metric, "mean": mean,
            "tolerance": tolerance, "protocol": GRID25 if protocol is None else protocol, **extra}


def verdict_cell(lines: list[str], their_row: str) -> str:
    row = next(line for line in lines if line.startswith(f"| PacGAN Table 1 | {their_row} |")
               or line.startswith(f"| VEEGAN | {their_row} |"))
    return row.split(" | ")[6]


def test_grid25_ns_within_the_published_error_is_consistent_in_the_report_and_the_rule():
    """NS 16.8 ± 1.7 (10 seeds) against PacGAN's 17.3: the report said "within ±0.8", the index "no"."""
    ours = spread(16.8, 1.7)
    ref = published("modes", 17.3, 0.8)
    assert reference_verdict(ref, ours, Direction.MAX, OURS).verdict is Verdict.CONSISTENT
    s = study(metric="modes", mode="max", reference=[ref])
    cell = verdict_cell(reference_lines(record(s, finals("non_saturating,1", {"modes": ours, "hq_fraction": [0.4] * 10})),
                                        s), "GAN")
    assert cell.startswith("consistent (17.3 inside our 95% CI [15.58, 18.02])")


def test_a_published_value_inside_our_interval_is_never_worse():
    """ring8 medium, PacGAN2's reverse KL: our 95% CI [0.056, 0.145] holds the paper's 0.07; the report said worse."""
    ours = spread(0.1005, 0.0622)
    low, high = t_interval(ours)
    assert (round(low, 3), round(high, 3)) == (0.056, 0.145)
    ref = published("reverse_kl", 0.07, 0.03, value="non_saturating,2", row="PacGAN2", protocol={**GRID25, "data": "ring8"})
    s = study(reference=[ref])
    lines = reference_lines(record(s, finals("non_saturating,2", {"reverse_kl": ours, "hq_fraction": [0.7] * 10},
                                             {"data.name": "ring8"})), s)
    assert verdict_cell(lines, "PacGAN2").startswith("consistent (0.07 inside our 95% CI")


def test_rows_with_another_dataset_or_no_step_count_get_no_verdict():
    """stacked_digits against Stacked MNIST; VEEGAN's rows, which record no step count, labelled "same"."""
    veegan = {"source": "VEEGAN", "row": "GAN", "value": "non_saturating,1", "metric": "modes", "mean": 3.3,
              "tolerance": 1.0, "protocol": {"data": "grid25", "n_samples": 2500}}
    s = study(metric="modes", mode="max", reference=[veegan])
    row = next(line for line in reference_lines(record(s, finals("non_saturating,1", {"modes": spread(16.8, 1.7),
                                                                                     "hq_fraction": [0.4] * 10})), s)
               if line.startswith("| VEEGAN |"))
    assert "| context (their protocol records no steps) |" in row and "| not recorded: steps |" in row
    stacked = published("modes_stacked_lenet_digits", 99, 20, protocol={"data": "stacked_mnist", "steps": 50000})
    found = reference_verdict(stacked, spread(995, 6), Direction.MAX, {**OURS, "data": "stacked_digits"})
    assert (found.verdict, found.reason) == (Verdict.CONTEXT, "another dataset: theirs stacked_mnist, ours stacked_digits")
    assert not found.verdict.judged


def test_a_not_converged_row_gets_no_verdict_against_a_published_row():
    """grid25 medium PacGAN2: 2% high quality, D at chance; its modes must not be met, missed or consistent."""
    ref = published("modes", 23.8, 0.7, value="non_saturating,2", row="PacGAN2")
    s = study(metric="modes", mode="max", reference=[ref])
    trials = finals("non_saturating,2", {"modes": spread(24.0, 0.5), "hq_fraction": [0.02] * 10,
                                         "final_d_loss": [1.383] * 10})
    cell = verdict_cell(reference_lines(record(s, trials), s), "PacGAN2")
    assert cell.startswith("not converged (high-quality fraction 2.0% < 10%)")
    d_at_chance = finals("non_saturating,2", {"modes": spread(24.0, 0.5), "hq_fraction": [0.5] * 10,
                                              "final_d_loss": [1.383] * 10})
    assert verdict_cell(reference_lines(record(s, d_at_chance), s), "PacGAN2").startswith("not converged (final D loss")


@pytest.mark.parametrize(("ours", "expected", "reason"), [
    (spread(17.2, 0.1), Verdict.MET, "within ±0.8"),             # outside our tight CI, inside the tolerance
    (spread(20.0, 0.5), Verdict.MET, "better by 2.7"),
    (spread(13.9, 2.1), Verdict.MISSED, "worse by 3.4: outside ±0.8 and our 95% CI [12.4, 15.4]"),
    ([16.0], Verdict.MISSED, "worse by 1.3: outside ±0.8"),      # one seed: no interval, the tolerance decides
    ([17.0], Verdict.MET, "within ±0.8"),
    ([], Verdict.CONTEXT, "no final runs"),
])
def test_met_and_missed_by_the_tolerance_once_our_interval_excludes_theirs(ours, expected, reason):
    found = reference_verdict(published("modes", 17.3, 0.8), ours, Direction.MAX, OURS)
    assert (found.verdict, found.reason) == (expected, reason)


def test_lower_is_better_and_unknown_directions():
    ref = published("reverse_kl", 0.70, 0.07)
    assert reference_verdict(ref, spread(0.3, 0.05), Direction.MIN, OURS).verdict is Verdict.MET
    assert reference_verdict(ref, spread(1.1, 0.05), Direction.MIN, OURS).verdict is Verdict.MISSED
    unknown = reference_verdict(ref, spread(1.1, 0.05), None, OURS)
    assert unknown.verdict is Verdict.CONTEXT and "which way" in unknown.reason
    assert str(reference_verdict(published("modes", 17.3, 0.8, value=None, note="no such loss here"), [], None, OURS)) \
        == "context (no such loss here)"


def test_the_rule_is_on_the_report_packages_public_surface():
    """The benchmarks' index and README judge published rows with the same function as the report."""
    import ganbench.report as report

    assert report.reference_verdict is reference_verdict and "reference_verdict" in report.__all__
    assert "search_method" in report.__all__
