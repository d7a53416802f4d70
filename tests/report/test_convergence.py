"""A 2-D leaderboard carries what chance scores, and flags the rows that are not a result (issue 22)."""

from __future__ import annotations

import pytest

from ganbench.metrics.chance import MIN_HQ_FRACTION
from ganbench.report.convergence import chance_row
from ganbench.report.leaderboard import baseline_lines, leaderboard, leaderboard_table
from tests.report.records import finals, record, spread, study

TWO_D = {"metric": "balanced_hq_fraction", "mode": "max", "baseline": "non_saturating,1"}


def grid25_record(hq_of_pack2: float = 0.02, d_loss_of_pack2: float = 1.2):
    s = study(**TWO_D)
    trials = (finals("non_saturating,1", {"balanced_hq_fraction": spread(0.30, 0.05), "hq_fraction": spread(0.38, 0.05),
                                          "final_d_loss": [1.1] * 10}, {"data.size": "20000"})
              + finals("non_saturating,2", {"balanced_hq_fraction": spread(0.02, 0.003),
                                            "hq_fraction": [hq_of_pack2] * 10, "final_d_loss": [d_loss_of_pack2] * 10},
                       {"data.size": "20000"}))
    return s, record(s, trials)


def test_a_diffuse_row_is_flagged_and_the_uniform_reference_row_is_shown():
    s, r = grid25_record()
    chance = chance_row(r, s)
    assert chance is not None and chance.n_samples == 2500 and chance.draws == 20
    assert chance.scores["hq_fraction"] == pytest.approx(0.025, abs=0.006) and chance.not_converged
    table = leaderboard_table(leaderboard(r, s), s, chance, select="")
    assert table[0].endswith("| converged |")
    cells = {line.split(" | ")[1]: line for line in table[2:]}
    assert cells["loss.name=non_saturating, model.pack=1"].endswith("| yes |")
    diffuse = cells["loss.name=non_saturating, model.pack=2"]
    assert diffuse.endswith("| **not converged**: high-quality fraction 2.0% < 10% |")
    uniform = next(line for line in table if line.startswith("| chance |"))
    assert "*uniform over the data's bounding box* (2500 points)" in uniform and "| 20 draws |" in uniform
    assert f"| {chance.scores['balanced_hq_fraction']:.4g} ± " in uniform
    assert uniform.endswith(f"| **not converged**: high-quality fraction {chance.scores['hq_fraction']:.1%} < "
                            f"{MIN_HQ_FRACTION:.0%} |")
    assert len(uniform.split("|")) == len(table[0].split("|"))


def test_a_row_whose_d_ended_at_chance_is_flagged_whatever_its_scores():
    s, r = grid25_record(hq_of_pack2=0.5, d_loss_of_pack2=1.384)
    row = next(row for row in leaderboard(r, s) if row["value"] == "non_saturating,2")
    assert row["not_converged"].startswith("final D loss 1.384 within 0.015 of chance")


def test_a_not_converged_row_is_neither_better_nor_worse_than_the_baseline():
    """grid25 small: "packing helps" rested on a pack-2 generator at 1.8% high quality."""
    s, r = grid25_record()
    s = study(**{**TWO_D, "metric": "reverse_kl", "mode": "min"})
    rows = leaderboard(r, s)
    for row in rows:  # pack 2 "wins" reverse KL by a mile, as diffuse generators do
        row["finals"] = spread(0.8, 0.1) if row["value"] == "non_saturating,2" else spread(1.4, 0.1)
        row["n"] = len(row["finals"])
    lines = baseline_lines(rows, s)
    verdict = next(line for line in lines if line.startswith("| loss.name=non_saturating, model.pack=2 |"))
    assert verdict.endswith("| no verdict: this row is not converged |")
    assert lines[-2].startswith("**No**") and lines[-1] == ("Not converged, so neither better nor worse than anything: "
                                                            "`loss.name=non_saturating, model.pack=2`.")


def test_a_study_that_is_not_2d_has_no_chance_row_or_flag_column():
    s = study(metric="fid_lenet_digits", mode="min")
    r = record(s, finals("non_saturating,1", {"fid_lenet_digits": spread(20, 2)}, {"data.name": "digits"}))
    assert chance_row(r, s) is None
    assert leaderboard(r, s)[0]["not_converged"] is None
    assert "converged" not in leaderboard_table(leaderboard(r, s), s)[0]


def test_a_baseline_that_is_not_converged_gets_no_answer():
    s, r = grid25_record()
    s = study(**{**TWO_D, "baseline": "non_saturating,2"})
    lines = baseline_lines(leaderboard(r, s), s)
    assert lines[-1].startswith("**No answer**: `loss.name=non_saturating, model.pack=2` is not converged")


def test_the_report_says_when_uniform_noise_outranks_rows_on_the_studys_metric():
    from ganbench.report.build import chance_lines

    s, r = grid25_record()
    chance = chance_row(r, s)
    rows = [{"value": "a", "n": 10, "mean": 0.9}, {"value": "b", "n": 10, "mean": 0.1}]
    assert not any("outranks" in line for line in chance_lines(chance, s, rows))  # balanced_hq_fraction: noise last
    on_kl = study(**{**TWO_D, "metric": "reverse_kl", "mode": "min"})
    warning = [line for line in chance_lines(chance, on_kl, rows) if "outranks" in line]
    assert warning and warning[0].startswith("**Uniform noise outranks 1 of 2 rows on `reverse_kl`**")
