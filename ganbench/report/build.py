"""``ganbench report SWEEP``: a leaderboard built from MLflow alone (README.md, index.html, PNGs, results.csv).

Rows rank on the mean of the final-stage reruns, never on the best of noisy search evaluations; each
row carries a t-interval, and every other row is compared with the best one by Welch's test (effect size,
Holm-adjusted p and the same test's interval at the Holm-adjusted level, minimum detectable effect at this
number of seeds); see ``ganbench.report.leaderboard`` and ``ganbench.report.stats``. Published numbers sit
beside ours (``ganbench.report.references``). This module assembles the page and its figures; the report is
also logged to the sweep's parent run.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.metrics.modes2d import RANKING_KEY
from ganbench.report import plots as report_plots
from ganbench.report import stats as report_stats
from ganbench.report.convergence import RULE as NOT_CONVERGED_RULE
from ganbench.report.convergence import ChanceRow, chance_row
from ganbench.report.data import SweepRecord, best_sample_image, curve, load_sweep_record
from ganbench.report.html import to_html
from ganbench.report.leaderboard import (
    baseline_lines,
    compared_keys,
    comparison_lines,
    leaderboard,
    leaderboard_table,
    value_names,
)
from ganbench.report.provenance import provenance
from ganbench.report.references import reference_lines, trend_lines
from ganbench.report.search import is_random_search, search_explained
from ganbench.report.selection import scored_generator, select_key
from ganbench.sweep.study import Study
from ganbench.tracking.record import decode_protocol
from ganbench.tracking.store import ui_command


def readable_protocol(protocol: dict[str, Any] | str) -> str:
    """A metric protocol (as the record holds it, or as stored) as prose: ``modes2d``: 2500 fake samples, ..."""
    if isinstance(protocol, str):
        protocol = decode_protocol(protocol)
    if not protocol:
        return "–"

    def items(entry: Any) -> str:
        if not isinstance(entry, dict):
            return str(entry)
        return ", ".join(f"{key.replace('_', ' ')} {items(value) if isinstance(value, dict) else value}"
                         for key, value in entry.items())

    return "; ".join(f"`{metric}`: {items(entry)}" for metric, entry in protocol.items())


def portable_command(command: str, out: Path | None = None) -> str:
    """The command a sweep was started with, without the machine's own paths: a file under the working folder
    or under search_spaces/ relative, any other absolute path by its name only. With ``out`` (the folder this
    report is written to), a ``--out`` names it: rerun as printed, the command rewrites this report."""
    cwd = Path.cwd()
    if out is not None:
        words = command.split()
        for index, word in enumerate(words):
            if word == "--out" and index + 1 < len(words):
                words[index + 1] = str(out.resolve())
            elif word.startswith("--out="):
                words[index] = f"--out={out.resolve()}"
        command = " ".join(words)

    def portable(path: Path) -> str:
        if path.is_relative_to(cwd):
            return str(path.relative_to(cwd))
        if "search_spaces" in path.parts:
            return str(Path(*path.parts[path.parts.index("search_spaces"):]))
        return f"<{path.name}>"

    def rewrite(word: str) -> str:
        if word.startswith("-") and "=" in word:  # an option's value: --out=/x
            option, value = word.split("=", 1)
            return f"{option}={rewrite(value)}"
        match = re.match(r"^([A-Za-z][\w+.-]*:/*?)?(/(?:[^/].*)?)$", word)  # a path, or a URI's: sqlite:////x
        return (match.group(1) or "") + portable(Path(match.group(2))) if match else word

    return " ".join(rewrite(word) for word in command.split())


def protocol_lines(record: SweepRecord, study: Study, out: Path | None = None) -> list[str]:
    fixed, params = study.fixed, record.parent["params"]
    finals = record.trials_of(study, "final")
    sample = finals[0].params if finals else next((t.params for t in record.trials), {})
    if finals and finals[0].final_protocol:
        protocol = f"final evaluation: {readable_protocol(finals[0].final_protocol)}"
    else:  # stores written before final protocols were tagged: the final settings are in the Data line
        protocol = f"during training: {readable_protocol(finals[0].protocol) if finals else '–'}"
    steps = sample.get("train.steps", fixed.get("train.steps", "?"))
    return [
        f"**Data**: `{sample.get('data.name', fixed.get('data.name'))}`; evaluation during search on the "
        f"`{sample.get('eval.split', '?')}` split, final numbers on `{sample.get('eval.final_split', '?')}` with "
        f"{sample.get('eval.final_n_samples', '?')} generated samples and fresh noise, each seed scored on "
        f"{scored_generator(select_key(record, study))}.",
        f"**Architecture**: `{sample.get('model.name', '?')}` (G width {sample.get('model.g_width', '?')}, D width "
        f"{sample.get('model.d_width', '?')}, D norm {sample.get('model.d_norm', '?')}), batch "
        f"{sample.get('train.batch_size', '?')}, {steps} generator steps per trial.",
        f"**Metric**: `{study.metric}` ({study.mode}); protocol of the final runs' {protocol}.",
        f"**Compared**: {compared_keys(study)}; "
        + ("each value's trials in turn, so the same file gives the same picks (`deterministic: true`)"
           if study.deterministic else "trials as fast as resources allow: ASHA's cuts and TPE's "
           "suggestions depend on which trial reports first, so reruns can pick other configs") + ".",
        "**Budget per compared value**: "
        + (f"{study.num_samples} search trials × {steps} steps ({search_explained(study)}; scheduler "
           f"{study.scheduler}), then {study.seeds} final seeds." if study.num_samples else
           f"no search (each value's config is fixed by the file), {study.seeds} seeds × {steps} steps."),
        f"**Versions**: ganbench {params.get('ganbench')}, torch {params.get('torch')}, ray {params.get('ray')}, "
        f"optuna {params.get('optuna')}, mlflow {params.get('mlflow')}, torch-fidelity {params.get('torch_fidelity')}, "
        f"python {params.get('python')}.",
        f"**Reproduce**: `{portable_command(params.get('command', '?'), out)}`",
    ]


def chance_lines(chance: ChanceRow, study: Study, rows: list[dict[str, Any]]) -> list[str]:
    """What uniform noise scores beside a 2-D leaderboard, the not-converged rule, and whether noise outranks rows
    on the study's own metric (then that metric cannot rank 2-D generators by itself)."""
    scores = ", ".join(f"`{key}` {chance.scores[key]:.3g}" for key in
                       ("modes", "hq_fraction", "reverse_kl", RANKING_KEY) if key in chance.scores)
    lines = [f"**Chance row**: {chance.n_samples} points uniform over the bounding box of `{chance.dataset}`'s training "
             f"points (the final evaluation's sample count), scored by the same metric code, mean of {chance.draws} "
             f"seeded draws: {scores}. {NOT_CONVERGED_RULE}", ""]
    noise = chance.mean_std(study.metric)
    ranked = [r for r in rows if r["n"]]
    # On the ranking key itself, a row below noise is simply worse than noise (and flagged not converged).
    beaten = [r for r in ranked if noise and study.metric != RANKING_KEY and study.judge.better(noise[0], r["mean"])]
    if beaten:
        lines += [f"**Uniform noise outranks {len(beaten)} of {len(ranked)} rows on `{study.metric}`**: this score reads "
                  f"only the high-quality samples, so it cannot rank 2-D generators by itself; `{RANKING_KEY}` "
                  "(high-quality samples, each mode counted up to 1/K) ranks noise below any generator that holds "
                  "one mode.", ""]
    return lines


def study_section(record: SweepRecord, study: Study, rows: list[dict[str, Any]], out: Path,
                  figures: list[Path], chance: ChanceRow | None = None) -> list[str]:
    metric = study.metric
    lines = [f"## Study `{study.name}`", "", *[f"- {line}" for line in protocol_lines(record, study, out)], "",
             f"### Leaderboard (ranked by the mean of final-stage reruns of `{metric}`)", "",
             *leaderboard_table(rows, study, chance, select_key(record, study))]
    lines += ["", "95% CIs of the mean are Student t-intervals (a percentile bootstrap from "
                  f"{report_stats.BOOTSTRAP_MIN_SEEDS} seeds). Trial counts cover both stages: the search trials "
                  "and the final-stage reruns.", "", *(chance_lines(chance, study, rows) if chance else []),
              "### Comparison with the best row", "", *comparison_lines(rows, study), ""]
    if study.baseline:
        baseline = value_names(study).get(study.baseline, study.baseline)
        lines += [f"### Does any value beat `{baseline}`?", "", *baseline_lines(rows, study), ""]
    if study.reference:
        lines += ["### Against published numbers", "", *reference_lines(record, study), ""]
        trend = trend_lines(record, study)
        if trend:
            lines += ["### Our published metrics against generator steps", "", *trend, ""]
    lines += plots(record, study, rows, out, figures)
    return lines


def _param_value(text: str) -> float | str:
    """MLflow stores params as text: numbers back to floats, choices (``model.d_norm: batch``) stay labels."""
    try:
        return float(text)
    except ValueError:
        return text


def search_series(record: SweepRecord, study: Study, rows: list[dict[str, Any]]
                  ) -> dict[str, list[tuple[float, float]]]:
    """Per value, each search trial's (generator steps run, number) in start order: the same numbers as the
    leaderboard's "best search trial" column, by the same rule (``Judge.value``)."""
    search = [t for t in record.trials if t.study == study.name and t.stage == "search"]
    return {r["value"]: [(t.metrics.get("step", 0), m) for t in search if t.value == r["value"]
                         and (m := study.judge.value(t)) is not None] for r in rows}


def median_final_runs(record: SweepRecord, study: Study, rows: list[dict[str, Any]]) -> dict[str, dict]:
    """Each value's final rerun whose number is the median of its seeds (the lower middle one for an even
    count): what a typical seed looks like, not the luckiest."""
    picked = {}
    for r in rows:
        finals = sorted(((m, t) for t in record.trials if t.study == study.name and t.value == r["value"]
                         and t.stage == "final" and (m := study.judge.value(t)) is not None),
                        key=lambda pair: pair[0])
        if finals:
            picked[r["value"]] = finals[(len(finals) - 1) // 2][1]
    return picked


def plots(record: SweepRecord, study: Study, rows: list[dict[str, Any]], out: Path,
          figures: list[Path]) -> list[str]:
    name, metric = study.name, study.metric
    names = value_names(study)
    trials = [t for t in record.trials if t.study == name]
    search = [t for t in trials if t.stage == "search"]
    paths = {kind: out / f"{name}_{kind}.png" for kind in ("best_so_far", "final", "params", "curves", "samples")}
    if not search:  # no search stage (num_samples 0): nothing to plot against trials or parameters
        paths.pop("best_so_far"), paths.pop("params")
    else:
        series = {names.get(v, v): points for v, points in search_series(record, study, rows).items()}
        caption = report_plots.best_so_far(series, metric, study.mode, is_random_search(study), paths["best_so_far"])
        tuned = sorted({k for k in study.nuisance} | {k for p in study.per_value.values() for k in p})
        # Each value's points only on the parameters it tuned: its per-value ones (the clip for wgan) plus the shared.
        own = {r["value"]: set(study.nuisance) | set(study.per_value.get(r["value"], {})) for r in rows}
        points = {names.get(r["value"], r["value"]): [
            ({k: _param_value(t.params[k]) for k in own[r["value"]] if k in t.params}, m)
            for t in search if t.value == r["value"] and (m := study.judge.value(t)) is not None] for r in rows}
        report_plots.metric_vs_params(points, tuned, metric, paths["params"])
    report_plots.final_distribution({names.get(r["value"], r["value"]): r["finals"] for r in rows}, metric,
                                    paths["final"])
    curves = {names.get(r["value"], r["value"]): [
        curve(record, t.run_id, metric) for t in trials if t.value == r["value"] and t.stage == "final"
        and study.judge.value(t) is not None] for r in rows}
    curves_caption = report_plots.training_curves(curves, metric, paths["curves"])
    medians = median_final_runs(record, study, rows)
    with tempfile.TemporaryDirectory() as folder:
        images = {}
        for value, t in medians.items():
            target = Path(folder) / value
            target.mkdir()
            image = best_sample_image(record, t.run_id, target)
            if image is not None:
                images[names.get(value, value)] = image
        report_plots.sample_grids(images, paths["samples"], what="median final seed",
                                  weights=scored_generator(select_key(record, study)))
    figures += list(paths.values())
    searched = [f"![best so far]({paths['best_so_far'].name})", "", caption, ""] if search else []
    by_params = [f"![metric vs parameters]({paths['params'].name})", ""] if search else []
    return ["### Plots", "", *searched, f"![final distribution]({paths['final'].name})", "", *by_params,
            f"![training curves]({paths['curves'].name})", "", curves_caption, "",
            f"![samples]({paths['samples'].name})", ""]


def write_csv(record: SweepRecord, path: Path) -> None:
    params = sorted({k for t in record.trials for k in t.params})
    metrics = sorted({k for t in record.trials for k in t.metrics})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run_id", "study", "value", "stage", "seed", "outcome", "failure_reason", *params, *metrics])
        for t in record.trials:
            writer.writerow([t.run_id, t.study, t.value, t.stage, "" if t.seed is None else t.seed, t.outcome_text,
                             t.failure_reason, *[t.params.get(k, "") for k in params],
                             *[t.metrics.get(k, "") for k in metrics]])


def budget_summary(study: Study, select: str) -> str:
    """What this budget ran, from the study itself: the summary a reader gets whatever the file's prose says."""
    values = ", ".join(f"`{study.label(v)}`" for v in study.values())
    search = (f"{search_explained(study)}, {study.num_samples} trial(s) per value" if study.num_samples
              else "no search (each value's config is fixed by the file)")
    steps = study.shared.get("train.steps", study.fixed.get("train.steps", "?"))  # stores before `shared`: fixed
    return (f"**This budget** compares {values} on `{study.metric}`: {search}; then {study.seeds} seeds × "
            f"{steps} generator steps per value, each seed scored on {scored_generator(select)}.")


def file_summary(benchmark: dict[str, Any]) -> str:
    """The file's own summary for this budget: a mapping's entry for it, or a plain text, which describes the file's
    default budget only (the medium reports opened with the small budget's "tuned trials, pack 4 and hinge")."""
    summary, budget = benchmark.get("summary"), benchmark.get("budget")
    if isinstance(summary, dict):
        summary = summary.get(budget)
    elif budget not in (None, benchmark.get("default_budget", "small")):
        summary = None
    return " ".join(str(summary).split()) if summary else ""


def benchmark_lines(benchmark: dict[str, Any], studies: Sequence[tuple[Study, str]] = ()) -> list[str]:
    """The benchmark's header: its budget, this budget's summary (per study: ``(study, eval.select)``), the file's
    summary where it describes this budget, and the budget's protocol notes."""
    budget = benchmark.get("budget", "?")
    below = {"small": "this machine's budget, far below the published one",
             "medium": "a background run at a fraction of the published steps"}.get(budget)
    stated = (f"{below}: every protocol difference is listed beside the reference numbers, and a verdict is about "
              "this budget, not the paper's") if below else "the published budget"
    lines = [f"Benchmark **{benchmark.get('title', benchmark.get('name', '?'))}** (`ganbench reproduce "
             f"{benchmark.get('name', '?')} --budget {budget}`), **{budget} budget**: {stated}.", ""]
    lines += [line for study, select in studies for line in (budget_summary(study, select), "")]
    if file_summary(benchmark):
        lines += [file_summary(benchmark), ""]
    note = (benchmark.get("notes") or {}).get(budget)
    if note:  # what the budget does differently from the paper beyond the keys the reference rows compare
        lines += [f"**Protocol differences of this budget**: {' '.join(str(note).split())}", ""]
    return lines


@dataclass(frozen=True)
class BuiltReport:
    folder: Path
    run_id: str         # the sweep's parent run, which now holds the report
    experiment_id: str

    def browse(self, tracking_uri: str) -> str:
        return ui_command(tracking_uri, self.experiment_id)


def build_report(name: str, tracking_uri: str, out: Path) -> BuiltReport:
    """Write the report to ``out`` and log it to the sweep's parent run."""
    record = load_sweep_record(name, tracking_uri)
    origin = provenance(record, tracking_uri)
    out.mkdir(parents=True, exist_ok=True)
    figures: list[Path] = []
    lines = [f"# Sweep `{name}`", "", f"Built by `ganbench report {name}` from the MLflow store alone "
             f"({len(record.trials)} trial runs). Numbers rank on the final-stage reruns; the best single search "
             "trial is shown for reference only, as it is an optimistic pick among noisy evaluations.", ""]
    if record.benchmark:
        lines += benchmark_lines(record.benchmark, [(study, select_key(record, study)) for study in record.studies])
    note = [f"# Leaderboard of sweep `{name}`", "", "Built by `ganbench report`; the whole report (plots, protocol, "
            "comparisons) is in this run's artifacts under `report/`.", ""]
    for study in record.studies:
        rows = leaderboard(record, study)
        chance = chance_row(record, study)  # 2-D studies only
        lines += study_section(record, study, rows, out, figures, chance)
        note += [f"## Study `{study.name}`: `{study.metric}` ({study.mode}), mean of final-stage reruns", "",
                 *leaderboard_table(rows, study, chance, select_key(record, study)), ""]
    lines += origin.lines
    markdown = "\n".join(lines) + "\n"
    (out / "README.md").write_text(markdown)
    (out / "provenance.json").write_text(json.dumps(origin.data, indent=2) + "\n")
    (out / "index.html").write_text(to_html(markdown, out, f"ganbench sweep {name}"))
    write_csv(record, out / "results.csv")
    record.tracker.publish(record.parent["run_id"], out, "\n".join(note))
    return BuiltReport(out, record.parent["run_id"], record.tracker.experiment_id)
