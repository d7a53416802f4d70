"""``ganbench report SWEEP``: a leaderboard built from MLflow alone (README.md, index.html, PNGs, results.csv).

Rows rank on the mean of the final-stage reruns, never on the best of noisy search evaluations; each
row carries a bootstrap CI, and every other row is compared with the best one (effect size with its
CI, Holm-corrected Welch test, minimum detectable effect at this number of seeds).
"""

from __future__ import annotations

import csv
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from ganbench.metrics.base import METRICS
from ganbench.report import plots as report_plots
from ganbench.report import stats as report_stats
from ganbench.report.data import SweepRecord, best_sample_image, curve, load_sweep_record
from ganbench.report.html import to_html
from ganbench.sweep.worth import final_worth, worth
from ganbench.tracking.runs import COUNTED, Outcome


def trial_value(trial: dict[str, Any], study: dict[str, Any]) -> float | None:
    """A trial's number by the sweep's one rule (``ganbench.sweep.worth``): search trials as the search judged
    them, final reruns by their final evaluation; None for trials that delivered nothing (diverged, failed)."""
    outcome = Outcome.of(trial["outcome"])
    if outcome is None or not outcome.delivered:
        return None
    return worth(trial["metrics"], study["metric"], study.get("rank_on"), trial["stage"])


def leaderboard(record: SweepRecord, study: dict[str, Any]) -> list[dict[str, Any]]:
    sign = 1 if study["mode"] == "min" else -1
    trials = [t for t in record.trials if t["study"] == study["name"]]
    rows = []
    for value in dict.fromkeys(t["value"] for t in trials):
        mine = [t for t in trials if t["value"] == value]
        finals = [m for t in mine if t["stage"] == "final" and (m := trial_value(t, study)) is not None]
        search = [m for t in mine if t["stage"] == "search" and (m := trial_value(t, study)) is not None]
        counts = {kind.value: sum(t["outcome"] == kind.value for t in mine) for kind in COUNTED}
        rows.append({
            "value": value, "finals": finals, "n": len(finals),
            "mean": statistics.mean(finals) if finals else math.nan,
            "std": statistics.stdev(finals) if len(finals) > 1 else math.nan,
            "ci": report_stats.bootstrap_ci(finals),
            "best_single": (min if sign > 0 else max)(search) if search else math.nan, **counts,
        })
    rows.sort(key=lambda r: (math.isnan(r["mean"]), sign * r["mean"] if not math.isnan(r["mean"]) else 0))
    return rows


def fmt(x: float, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def protocol_lines(record: SweepRecord, study: dict[str, Any]) -> list[str]:
    fixed, params = study["fixed"], record.parent["params"]
    finals = [t for t in record.trials if t["study"] == study["name"] and t["stage"] == "final"]
    sample = finals[0]["params"] if finals else next((t["params"] for t in record.trials), {})
    if finals and finals[0].get("final_protocol"):
        protocol = f"final evaluation `{finals[0]['final_protocol']}`"
    else:  # stores written before final protocols were tagged: the final settings are in the Data line
        protocol = f"during training `{finals[0]['protocol'] if finals else '–'}`"
    steps = sample.get("train.steps", fixed.get("train.steps", "?"))
    return [
        f"**Data**: `{sample.get('data.name', fixed.get('data.name'))}`; evaluation during search on the "
        f"`{sample.get('eval.split', '?')}` split, final numbers on `{sample.get('eval.final_split', '?')}` with "
        f"{sample.get('eval.final_n_samples', '?')} generated samples and fresh noise.",
        f"**Architecture**: `{sample.get('model.name', '?')}` (G width {sample.get('model.g_width', '?')}, D width "
        f"{sample.get('model.d_width', '?')}, D norm {sample.get('model.d_norm', '?')}), batch "
        f"{sample.get('train.batch_size', '?')}, {steps} generator steps per trial.",
        f"**Metric**: `{study['metric']}` ({study['mode']}); protocol of the final runs' {protocol}.",
        f"**Budget per compared value**: {study['num_samples']} search trials × {steps} steps "
        f"({study['sampler']} sampler, scheduler {study['scheduler']}), then {study['seeds']} final seeds.",
        f"**Versions**: ganbench {params.get('ganbench')}, torch {params.get('torch')}, ray {params.get('ray')}, "
        f"optuna {params.get('optuna')}, mlflow {params.get('mlflow')}, torch-fidelity {params.get('torch_fidelity')}, "
        f"python {params.get('python')}.",
        f"**Reproduce**: `{params.get('command', '?')}`",
    ]


def comparison_lines(rows: list[dict[str, Any]], study: dict[str, Any]) -> list[str]:
    ranked = [r for r in rows if r["n"]]
    if len(ranked) < 2:
        return ["Fewer than two values have final-stage runs: nothing to compare."]
    best = ranked[0]
    n = min(r["n"] for r in ranked)
    stds = [r["std"] for r in ranked if not math.isnan(r["std"])]
    mde = report_stats.minimum_detectable_effect(statistics.mean(stds) if stds else math.nan, n)
    lines = [f"Against the best row (`{best['value']}`), difference = row − best in `{study['metric']}` units; "
             f"minimum detectable effect at {n} seeds per row (α 0.05, power 0.8): {fmt(mde)}.", "",
             "| value | difference | 95% CI | Hedges' g | Holm p |", "|---|---|---|---|---|"]
    for c in report_stats.compare_to_best({r["value"]: r["finals"] for r in ranked}, best["value"]):
        lines.append(f"| {c.value} | {fmt(c.difference)} | [{fmt(c.difference_ci[0])}, {fmt(c.difference_ci[1])}] | "
                     f"{fmt(c.hedges_g, 3)} | {fmt(c.p_holm, 3)} |")
    if report_stats.too_few_seeds(n):
        lines += ["", f"**Too few seeds to rank**: with {n} final seed(s) per value no test can separate the rows; "
                      "the order above is descriptive only. Rerun with `seeds: 10` or more."]
    return lines


def baseline_lines(rows: list[dict[str, Any]], study: dict[str, Any]) -> list[str]:
    """Every value against the study's baseline (Lucic et al.'s question: does any loss beat NS?), with
    effect sizes, CIs and Holm-corrected p-values, and a one-sentence answer."""
    metric, baseline, sign = study["metric"], study["baseline"], 1 if study["mode"] == "min" else -1
    groups = {r["value"]: r["finals"] for r in rows if r["n"]}
    if baseline not in groups or len(groups) < 2:
        return [f"`{baseline}` or every other value lacks final-stage runs: no answer."]
    lines = [f"Difference = value − `{baseline}` in `{metric}` units ({'lower' if sign > 0 else 'higher'} is "
             "better); Holm-corrected Welch tests over all values.", "",
             "| value | difference | 95% CI | Hedges' g | Holm p | verdict |", "|---|---|---|---|---|---|"]
    better, worse = [], []
    for c in report_stats.compare_to_best(groups, baseline):
        significant = not math.isnan(c.p_holm) and c.p_holm < report_stats.ALPHA
        if significant and sign * c.difference < 0:
            verdict = "better"
            better.append(c.value)
        elif significant:
            verdict = "worse"
            worse.append(c.value)
        else:
            verdict = "no detectable difference"
        lines.append(f"| {c.value} | {fmt(c.difference)} | [{fmt(c.difference_ci[0])}, {fmt(c.difference_ci[1])}] | "
                     f"{fmt(c.hedges_g, 3)} | {fmt(c.p_holm, 3)} | {verdict} |")
    n = min(len(v) for v in groups.values())
    if not better and not worse and all(math.isnan(c.p_holm) for c in report_stats.compare_to_best(groups, baseline)):
        return [*lines, "", f"**Cannot be tested**: with {n} seed(s) per value, or no spread within the values, no "
                            "test applies; the differences above are descriptive only."]
    answer = (f"**Yes**: {', '.join(f'`{v}`' for v in better)} beat `{baseline}` at Holm-corrected α 0.05."
              if better else f"**No**: no value beats `{baseline}` at Holm-corrected α 0.05 with {n} seeds per value")
    if not better and worse:
        answer += f"; {', '.join(f'`{v}`' for v in worse)} {'is' if len(worse) == 1 else 'are'} detectably worse"
    lines += ["", answer + ("." if not answer.endswith(".") else "")]
    if report_stats.too_few_seeds(n):
        lines.append(f"With {n} seeds per value no test can separate them; the answer is descriptive only.")
    return lines


PROTOCOL_KEYS = {"steps": "train.steps", "n_samples": "eval.final_n_samples", "batch_size": "train.batch_size",
                 "data": "data.name", "model": "model.name"}

def reference_lines(record: SweepRecord, study: dict[str, Any]) -> list[str]:
    """Ours and theirs side by side: a verdict per row by its stated tolerance, and protocol differences."""
    finals = [t for t in record.trials if t["study"] == study["name"] and t["stage"] == "final"]
    ours_params = finals[0]["params"] if finals else {}
    lines = ["| source | their row | our value | metric | theirs | ours (final seeds) | verdict | protocol |",
             "|---|---|---|---|---|---|---|---|"]
    for ref in study["reference"]:
        metric = ref["metric"]
        values = [v for t in finals if t["value"] == str(ref.get("value")) and t["outcome"] == Outcome.COMPLETED.value
                  and (v := final_worth(t["metrics"], metric)) is not None]
        theirs = float(ref["mean"])
        direction = next((m.directions[metric] for _, m in METRICS.items() if metric in m.directions), "min")
        if ref.get("value") is None:
            ours_text, verdict = "–", f"context only ({ref.get('note') or 'no ganbench counterpart'})"
        elif not values:
            ours_text, verdict = "–", "no final runs"
        else:
            ours = statistics.mean(values)
            ours_text = f"{fmt(ours)} ± {fmt(statistics.stdev(values), 2) if len(values) > 1 else '–'} (n={len(values)})"
            gap = ours - theirs
            if abs(gap) <= float(ref["tolerance"]):
                verdict = f"within ±{ref['tolerance']}"
            else:
                verdict = "better" if (gap < 0) == (direction == "min") else "worse"
        ours_protocol = {**{k: ours_params.get(key) for k, key in PROTOCOL_KEYS.items()},
                         "configs": study.get("num_samples"), "seeds": study.get("seeds")}
        differs = [f"{k}: theirs {v}, ours {ours_protocol.get(k)}" for k, v in (ref.get("protocol") or {}).items()
                   if k in ours_protocol and str(v) != str(ours_protocol[k])]
        warning = ("⚠ differs: " + "; ".join(differs)) if differs else "same" if ref.get("protocol") else "–"
        err = f" ± {ref['err']}" if "err" in ref else ""
        ours_value = f"`{ref['value']}`" if ref.get("value") is not None else "–"
        lines.append(f"| {ref['source']} | {ref['row']} | {ours_value} | {metric} | {theirs:g}{err} | {ours_text} | "
                     f"{verdict} | {warning} |")
    return lines


def study_section(record: SweepRecord, study: dict[str, Any], out: Path, figures: list[Path]) -> list[str]:
    rows = leaderboard(record, study)
    metric = study["metric"]
    judged = "best checkpoint" if study.get("rank_on") == "best" else "last evaluation"
    lines = [f"## Study `{study['name']}`", "", *[f"- {line}" for line in protocol_lines(record, study)], "",
             f"### Leaderboard (ranked by the mean of final-stage reruns of `{metric}`)", "",
             f"| rank | value | mean ± std | 95% bootstrap CI | seeds | best search trial ({judged}, optimistic) | "
             "completed | stopped early | diverged | failed |", "|---|---|---|---|---|---|---|---|---|---|"]
    for rank, r in enumerate(rows, start=1):
        lines.append(f"| {rank} | `{r['value']}` | {fmt(r['mean'])} ± {fmt(r['std'], 2)} | "
                     f"[{fmt(r['ci'][0])}, {fmt(r['ci'][1])}] | {r['n']} | {fmt(r['best_single'])} | "
                     f"{r['completed']} | {r['stopped_early']} | {r['diverged']} | {r['failed']} |")
    lines += ["", "Trial counts cover both stages: the search trials and the final-stage reruns.", "",
              "### Comparison with the best row", "", *comparison_lines(rows, study), ""]
    if study.get("baseline"):
        lines += [f"### Does any value beat `{study['baseline']}`?", "", *baseline_lines(rows, study), ""]
    if study.get("reference"):
        lines += ["### Against published numbers", "", *reference_lines(record, study), ""]
    lines += plots(record, study, rows, out, figures)
    return lines


def _param_value(text: str) -> float | str:
    """MLflow stores params as text: numbers back to floats, choices (``model.d_norm: batch``) stay labels."""
    try:
        return float(text)
    except ValueError:
        return text


def plots(record: SweepRecord, study: dict[str, Any], rows: list[dict[str, Any]], out: Path,
          figures: list[Path]) -> list[str]:
    name, metric = study["name"], study["metric"]
    trials = [t for t in record.trials if t["study"] == name]
    search = [t for t in trials if t["stage"] == "search"]
    series = {r["value"]: [(t["metrics"].get("step", 0), m) for t in search if t["value"] == r["value"]
                           and (m := trial_value(t, study)) is not None] for r in rows}
    paths = {kind: out / f"{name}_{kind}.png" for kind in ("best_so_far", "final", "params", "curves", "samples")}
    caption = report_plots.best_so_far(series, metric, study["mode"], study["sampler"] == "random",
                                       paths["best_so_far"])
    report_plots.final_distribution({r["value"]: r["finals"] for r in rows}, metric, paths["final"])
    tuned = sorted({k for k in study["nuisance"]} | {k for p in study["per_value"].values() for k in p})
    # Each value's points only on the parameters it tuned: its per-value ones (the clip for wgan) plus the shared.
    own = {r["value"]: set(study["nuisance"]) | set(study["per_value"].get(r["value"], {})) for r in rows}
    points = {r["value"]: [({k: _param_value(t["params"][k]) for k in own[r["value"]] if k in t["params"]}, m)
                           for t in search if t["value"] == r["value"] and (m := trial_value(t, study)) is not None]
              for r in rows}
    report_plots.metric_vs_params(points, tuned, metric, paths["params"])
    best_runs = {}
    for r in rows:
        candidates = [t for t in trials if t["value"] == r["value"] and trial_value(t, study) is not None]
        finals = [t for t in candidates if t["stage"] == "final"] or candidates
        if finals:
            sign = 1 if study["mode"] == "min" else -1
            best_runs[r["value"]] = min(finals, key=lambda t: sign * trial_value(t, study))
    report_plots.training_curves({v: curve(record, t["run_id"], metric) for v, t in best_runs.items()}, metric,
                                 paths["curves"])
    with tempfile.TemporaryDirectory() as folder:
        images = {}
        for value, t in best_runs.items():
            target = Path(folder) / value
            target.mkdir()
            image = best_sample_image(record, t["run_id"], target)
            if image is not None:
                images[value] = image
        report_plots.sample_grids(images, paths["samples"])
    figures += list(paths.values())
    return ["### Plots", "", f"![best so far]({paths['best_so_far'].name})", "", caption, "",
            f"![final distribution]({paths['final'].name})", "", f"![metric vs parameters]({paths['params'].name})",
            "", f"![training curves]({paths['curves'].name})", "", f"![samples]({paths['samples'].name})", ""]


def write_csv(record: SweepRecord, path: Path) -> None:
    params = sorted({k for t in record.trials for k in t["params"]})
    metrics = sorted({k for t in record.trials for k in t["metrics"]})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run_id", "study", "value", "stage", "seed", "outcome", "failure_reason", *params, *metrics])
        for t in record.trials:
            writer.writerow([t["run_id"], t["study"], t["value"], t["stage"], t["seed"], t["outcome"],
                             t["failure_reason"], *[t["params"].get(k, "") for k in params],
                             *[t["metrics"].get(k, "") for k in metrics]])


def benchmark_lines(benchmark: dict[str, Any]) -> list[str]:
    budget = benchmark.get("budget", "?")
    stated = ("this machine's budget, far below the published one: every protocol difference is listed beside the "
              "reference numbers, and a verdict is about this budget, not the paper's" if budget == "small"
              else "the published budget")
    lines = [f"Benchmark **{benchmark.get('title', benchmark.get('name', '?'))}** (`ganbench reproduce "
             f"{benchmark.get('name', '?')} --budget {budget}`), **{budget} budget**: {stated}.", ""]
    if benchmark.get("summary"):
        lines += [" ".join(str(benchmark["summary"]).split()), ""]
    return lines


def build_report(name: str, tracking_uri: str, out: Path) -> Path:
    record = load_sweep_record(name, tracking_uri)
    out.mkdir(parents=True, exist_ok=True)
    figures: list[Path] = []
    lines = [f"# Sweep `{name}`", "", f"Built by `ganbench report {name}` from the MLflow store alone "
             f"({len(record.trials)} trial runs). Numbers rank on the final-stage reruns; the best single search "
             "trial is shown for reference only, as it is an optimistic pick among noisy evaluations.", ""]
    if record.benchmark:
        lines += benchmark_lines(record.benchmark)
    for study in record.studies:
        lines += study_section(record, study, out, figures)
    markdown = "\n".join(lines) + "\n"
    (out / "README.md").write_text(markdown)
    (out / "index.html").write_text(to_html(markdown, out, f"ganbench sweep {name}"))
    write_csv(record, out / "results.csv")
    return out
