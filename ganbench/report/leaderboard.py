"""The leaderboard of one study: its rows (each compared value's final-stage numbers, ranked by the study's judge),
the table a reader sees, and every row against the best one and against the study's baseline (Welch's tests,
Holm-adjusted; see ``ganbench.report.stats``)."""

from __future__ import annotations

import math
import statistics
from typing import Any

from ganbench.report import stats as report_stats
from ganbench.report.convergence import ChanceRow, not_converged
from ganbench.report.data import SweepRecord
from ganbench.sweep.study import Study
from ganbench.tracking.record import COUNTED


def leaderboard(record: SweepRecord, study: Study) -> list[dict[str, Any]]:
    """One row per compared value, best first by the mean of its final-stage reruns (``Judge.value``)."""
    judge = study.judge
    trials = record.trials_of(study)
    rows = []
    for value in dict.fromkeys(t.value for t in trials):
        mine = [t for t in trials if t.value == value]
        finals = [m for t in mine if t.stage == "final" and (m := judge.value(t)) is not None]
        search = [m for t in mine if t.stage == "search" and (m := judge.value(t)) is not None]
        counts = {kind.value: sum(t.outcome is kind for t in mine) for kind in COUNTED}
        rows.append({
            "value": value, "finals": finals, "n": len(finals),
            "mean": statistics.mean(finals) if finals else math.nan,
            "std": statistics.stdev(finals) if len(finals) > 1 else math.nan,
            "ci": report_stats.mean_ci(finals)[0],
            "best_single": judge.best(search) if search else math.nan, **counts,
            "not_converged": not_converged(record, study, value),
        })
    rows.sort(key=lambda r: judge.rank_key(r["mean"]))
    return rows


def value_names(study: Study) -> dict[str, str]:
    """Each compared value's label (``hinge,1``, as MLflow tags it) as a reader needs it: with its config keys
    (``loss.name=hinge, model.pack=1``) whenever a study compares more than one key."""
    several = len(study.scientific) > 1
    return {study.label(value): ", ".join(f"{k}={v}" for k, v in value.items()) if several and value
            else study.label(value) for value in study.values()}


def compared_keys(study: Study) -> str:
    return ", ".join(f"`{k}`" for k in study.scientific) or "value"


def fmt(x: float, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def interval(comparison: report_stats.Comparison) -> str:
    low, high = comparison.difference_ci
    if math.isnan(low):
        return "–"
    return f"[{fmt(low)}, {fmt(high)}] ({comparison.level:.1%})"


def search_judged(study: Study, select: str) -> str:
    """What the search column's number is: a trial's best checkpoint by ``eval.select``, or its last evaluation
    (``rank_on: last``, or no checkpoint selected: the last generator stands, so its last evaluation is its best)."""
    return f"best checkpoint by `{select}`" if study.rank_on == "best" and select else "last evaluation"


def leaderboard_table(rows: list[dict[str, Any]], study: Study, chance: ChanceRow | None = None,
                      select: str = "") -> list[str]:
    """The ranked table; a 2-D study's (``chance`` given) adds a "converged" column and the uniform reference row."""
    names = value_names(study)
    flag = chance is not None
    lines = [f"| rank | {compared_keys(study)} | mean ± std | 95% CI | seeds | best search trial "
             f"({search_judged(study, select)}, optimistic) | completed | stopped early | diverged | failed |"
             + (" converged |" if flag else ""), "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if flag else "")]
    if not any(r["n"] for r in rows):
        lines[:0] = ["**Unranked**: no final-stage run has finished, so no value has a number to rank on (a sweep that "
                     "was paused or is still running: `ganbench sweep FILE --resume` finishes it).", ""]
    ranked = 0
    for r in rows:
        low, high = r["ci"]
        ranked += bool(r["n"])
        rank = ranked if r["n"] else "unranked"  # no final seeds (a paused sweep): nothing to rank it on
        lines.append(f"| {rank} | {names.get(r['value'], r['value'])} | {fmt(r['mean'])} ± {fmt(r['std'], 2)} | "
                     f"[{fmt(low)}, {fmt(high)}] | {r['n']} | {fmt(r['best_single'])} | "
                     f"{r['completed']} | {r['stopped_early']} | {r['diverged']} | {r['failed']} |"
                     + (f" {converged_cell(r)} |" if flag else ""))
    if chance is not None:
        lines.append(chance_line(chance, study, len(lines[0].split("|")) - 2))
    return lines


def converged_cell(row: dict[str, Any]) -> str:
    if not row["n"]:
        return "–"
    return f"**not converged**: {row['not_converged']}" if row.get("not_converged") else "yes"


def chance_line(chance: ChanceRow, study: Study, columns: int) -> str:
    """The uniform reference as a leaderboard row: no rank, its draws in the seeds column."""
    shown = chance.mean_std(study.metric)
    number = f"{fmt(shown[0])} ± {fmt(shown[1], 2)}" if shown else "– (not a 2-D score)"
    cells = ["chance", f"*uniform over the data's bounding box* ({chance.n_samples} points)", number, "–",
             f"{chance.draws} draws", "–", "–", "–", "–", "–"]
    cells += [f"**not converged**: {chance.not_converged}" if chance.not_converged else "yes"][: columns - len(cells)]
    return "| " + " | ".join(cells) + " |"


def comparison_lines(rows: list[dict[str, Any]], study: Study) -> list[str]:
    ranked = [r for r in rows if r["n"]]
    if len(ranked) < 2:
        return ["Fewer than two values have final-stage runs: nothing to compare."]
    best = ranked[0]
    n = min(r["n"] for r in ranked)
    stds = [r["std"] for r in ranked if not math.isnan(r["std"])]
    mde = report_stats.minimum_detectable_effect(statistics.mean(stds) if stds else math.nan, n)
    names = value_names(study)
    lines = [f"Against the best row ({names.get(best['value'], best['value'])}), difference = row − best in "
             f"`{study.metric}` units, by Welch's t-test: its Holm-adjusted p and the same test's interval at the "
             "Holm-adjusted level, so an interval excludes 0 exactly when p < 0.05. Minimum detectable effect at "
             f"{n} seeds per row (two-sided t-test, α 0.05, power 0.8, the rows' mean std): {fmt(mde)}.", "",
             f"| {compared_keys(study)} | difference | CI (level) | Hedges' g | Holm p |", "|---|---|---|---|---|"]
    for c in report_stats.compare_to_best({r["value"]: r["finals"] for r in ranked}, best["value"]):
        lines.append(f"| {names.get(c.value, c.value)} | {fmt(c.difference)} | {interval(c)} | "
                     f"{fmt(c.hedges_g, 3)} | {fmt(c.p_holm, 3)} |")
    if report_stats.too_few_seeds(n):
        lines += ["", f"**Too few seeds to rank**: with {n} final seed(s) per value no test can separate the rows; "
                      "the order above is descriptive only. Rerun with `seeds: 10` or more."]
    return lines


def baseline_lines(rows: list[dict[str, Any]], study: Study) -> list[str]:
    """Every value against the study's baseline (Lucic et al.'s question: does any loss beat NS?), with
    effect sizes, CIs and Holm-corrected p-values, and a one-sentence answer."""
    metric, baseline, judge = study.metric, study.baseline, study.judge
    groups = {r["value"]: r["finals"] for r in rows if r["n"]}
    if baseline not in groups or len(groups) < 2:
        return [f"`{baseline}` or every other value lacks final-stage runs: no answer."]
    names = value_names(study)
    shown = names.get(baseline, baseline)
    lines = [f"Difference = value − `{shown}` in `{metric}` units ({judge.direction.word} is "
             "better); Welch's t-tests over all values, Holm-adjusted, each with its interval at the adjusted level.",
             "", f"| {compared_keys(study)} | difference | CI (level) | Hedges' g | Holm p | verdict |",
             "|---|---|---|---|---|---|"]
    better, worse = [], []
    comparisons = report_stats.compare_to_best(groups, baseline)
    flagged = {r["value"]: r.get("not_converged") for r in rows}
    for c in comparisons:
        significant = not math.isnan(c.p_holm) and c.p_holm < report_stats.ALPHA
        if flagged.get(c.value) or flagged.get(baseline):  # a generator that learned nothing is no side to take
            verdict = "no verdict: " + ("this row" if flagged.get(c.value) else "the baseline") + " is not converged"
        elif significant and judge.better(c.difference, 0.0):
            verdict = "better"
            better.append(c.value)
        elif significant:
            verdict = "worse"
            worse.append(c.value)
        else:
            verdict = "no detectable difference"
        lines.append(f"| {names.get(c.value, c.value)} | {fmt(c.difference)} | {interval(c)} | "
                     f"{fmt(c.hedges_g, 3)} | {fmt(c.p_holm, 3)} | {verdict} |")
    n = min(len(v) for v in groups.values())
    if flagged.get(baseline):
        return [*lines, "", f"**No answer**: `{shown}` is not converged ({flagged[baseline]}), so nothing can be "
                            "better or worse than it."]
    if not better and not worse and all(math.isnan(c.p_holm) for c in comparisons):
        return [*lines, "", f"**Cannot be tested**: with {n} seed(s) per value, or no spread within the values, no "
                            "test applies; the differences above are descriptive only."]
    answer = (f"**Yes**: {', '.join(f'`{names.get(v, v)}`' for v in better)} beat `{shown}` at Holm-corrected α 0.05."
              if better else f"**No**: no value beats `{shown}` at Holm-corrected α 0.05 with {n} seeds per value")
    if not better and worse:
        listed = ", ".join(f"`{names.get(v, v)}`" for v in worse)
        answer += f"; {listed} {'is' if len(worse) == 1 else 'are'} detectably worse"
    lines += ["", answer + ("." if not answer.endswith(".") else "")]
    unjudged = [f"`{names.get(v, v)}`" for v in groups if flagged.get(v)]
    if unjudged:
        lines.append(f"Not converged, so neither better nor worse than anything: {', '.join(unjudged)}.")
    if report_stats.too_few_seeds(n):
        lines.append(f"With {n} seeds per value no test can separate them; the answer is descriptive only.")
    return lines
