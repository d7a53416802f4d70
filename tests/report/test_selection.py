"""Captions name the generator the study's eval.select scored: its best checkpoint, or its last generator."""

from __future__ import annotations

from ganbench.report.build import benchmark_lines, protocol_lines
from ganbench.report.leaderboard import leaderboard, leaderboard_table
from ganbench.report.references import trend_lines
from ganbench.report.selection import scored_generator, select_key
from tests.report.records import finals, record, study


def data_line(select: str) -> str:
    s = study()
    trials = finals("non_saturating,1", {"reverse_kl": [0.5] * 3}, {"eval.select": select})
    return next(line for line in protocol_lines(record(s, trials), s) if line.startswith("**Data**"))


def test_the_data_line_names_the_scored_generator_from_eval_select():
    assert data_line("reverse_kl").endswith("each seed scored on its best checkpoint by reverse_kl.")
    assert data_line("").endswith("each seed scored on its last generator (no checkpoint chosen: eval.select is empty).")


def test_the_search_column_says_best_checkpoint_only_when_one_was_selected():
    """The small benchmarks select no checkpoint (eval.select ""), yet their column said "best checkpoint"."""
    s = study(rank_on="best")
    for select, judged in (("", "last evaluation"), ("reverse_kl", "best checkpoint by `reverse_kl`")):
        r = record(s, finals("non_saturating,1", {"reverse_kl": [0.5] * 3}, {"eval.select": select}))
        header = leaderboard_table(leaderboard(r, s), s, select=select_key(r, s))[0]
        assert f"best search trial ({judged}, optimistic)" in header


class Curves:
    """A store's metric histories: every run at steps 1,000 and 2,000."""

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        return [(1000, 0.6), (2000, 0.5)]


def test_the_trend_caption_names_the_generator_the_table_scored():
    """The quickstart selects the best checkpoint, yet the caption said "scores the final generator afresh"."""
    ref = {"source": "PacGAN", "row": "GAN", "value": "non_saturating,1", "metric": "reverse_kl", "mean": 0.7,
           "tolerance": 0.07}
    s = study(reference=[ref])
    for select in ("reverse_kl", ""):
        r = record(s, finals("non_saturating,1", {"reverse_kl": [0.5] * 3}, {"eval.select": select}))
        r.tracker = Curves()  # type: ignore[assignment]
        caption = trend_lines(r, s)[0]
        scored = scored_generator(select, "each seed's")
        assert f"the table above scores {scored} afresh" in caption
        assert "final generator" not in caption


def test_a_medium_report_opens_with_its_own_summary_not_the_small_budgets():
    """The file's summary describes its default budget (small: tuned trials, pack 4 and hinge)."""
    s = study(num_samples=0, seeds=10, fixed={"train.steps": 10000})
    benchmark = {"title": "PacGAN grid25", "name": "grid25_pacgan", "default_budget": "small",
                 "summary": "Non-saturating at pack 1, 2, 4 and hinge get the same tuned trials.",
                 "notes": {"medium": "PacGAN's protocol."}}
    medium = "\n".join(benchmark_lines({**benchmark, "budget": "medium"}, [(s, "")]))
    assert "tuned trials" not in medium and "hinge" not in medium
    assert ("**This budget** compares `non_saturating,1`, `non_saturating,2` on `reverse_kl`: no search (each value's "
            "config is fixed by the file); then 10 seeds × 10000 generator steps per value, each seed scored on its last "
            "generator") in medium
    assert "**Protocol differences of this budget**: PacGAN's protocol." in medium
    small = "\n".join(benchmark_lines({**benchmark, "budget": "small"}, [(s, "")]))
    assert "Non-saturating at pack 1, 2, 4 and hinge get the same tuned trials." in small
    per_budget = {**benchmark, "budget": "medium", "summary": {"small": "Tuned.", "medium": "PacGAN's own runs."}}
    assert "PacGAN's own runs." in benchmark_lines(per_budget) and "Tuned." not in benchmark_lines(per_budget)
