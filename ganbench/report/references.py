"""Published numbers beside ours: a verdict per reference row by the one rule (``ganbench.report.verdict``), the
protocol differences, and how our numbers moved with generator steps."""

from __future__ import annotations

import statistics
from typing import Any

from ganbench.metrics import known_direction
from ganbench.metrics.keys import Direction
from ganbench.report.convergence import not_converged
from ganbench.report.data import SweepRecord, curve
from ganbench.report.leaderboard import fmt, value_names
from ganbench.report.selection import scored_generator, select_key
from ganbench.report.verdict import protocol_differences, reference_verdict, unrecorded
from ganbench.sweep.judge import Judge
from ganbench.sweep.study import Study

VERDICT_RULE = ("Verdicts: **consistent** when the published mean lies inside our 95% CI (our seeds cannot tell the "
                "two apart); else **met** when ours is within the row's tolerance or better, **missed** when worse; "
                "**context** (no verdict) for a row with no counterpart here, another dataset, or a protocol that "
                "records no data or step count; **not converged** (no verdict) for a row of ours whose scores are "
                "not a result. A verdict is about this budget: the protocol column lists what differs.")
PROTOCOL_KEYS = {"steps": "train.steps", "n_samples": "eval.final_n_samples", "batch_size": "train.batch_size",
                 "data": "data.name", "model": "model.name"}


def reference_direction(study: Study, metric: str) -> Direction | None:
    """Which way a published row's metric improves: the study's own direction, or the one the metric declares (None
    if no registered metric declares it: then no verdict says better or worse)."""
    return study.judge.direction if metric == study.metric else known_direction(metric)


def our_protocol(record: SweepRecord, study: Study) -> dict[str, Any]:
    """Our side of every published row's protocol (``REFERENCE_PROTOCOL_KEYS``), from the final runs' params."""
    finals = record.trials_of(study, "final")
    params = finals[0].params if finals else {}
    return {**{key: params.get(name, study.fixed.get(name)) for key, name in PROTOCOL_KEYS.items()},
            "configs": study.num_samples, "seeds": study.seeds}


def reference_lines(record: SweepRecord, study: Study) -> list[str]:
    """Ours and theirs side by side: a verdict per row by the one rule (``ganbench.report.verdict``), and the
    protocol differences."""
    finals = record.trials_of(study, "final")
    ours_protocol = our_protocol(record, study)
    names = value_names(study)
    lines = ["| source | their row | our value | metric | theirs | ours (final seeds) | verdict | protocol |",
             "|---|---|---|---|---|---|---|---|"]
    for ref in study.reference:
        metric = ref["metric"]
        label = None if ref.get("value") is None else str(ref["value"])
        values = [v for t in finals if t.value == label and Judge.counts(t.outcome)
                  and (v := study.judge.final_worth(t.metrics, metric)) is not None]
        flagged = not_converged(record, study, label) if label is not None else None
        verdict = reference_verdict(ref, values, reference_direction(study, metric), ours_protocol, flagged)
        ours_text = "–" if label is None or not values else (
            f"{fmt(statistics.mean(values))} ± {fmt(statistics.stdev(values), 2) if len(values) > 1 else '–'} "
            f"(n={len(values)})")
        differs = protocol_differences(ref, ours_protocol)
        missing = unrecorded(ref)
        warning = "; ".join(filter(None, ["⚠ differs: " + "; ".join(differs) if differs else "",
                                          f"not recorded: {', '.join(missing)}" if missing else ""]))
        warning = warning or "same"
        err = f" ± {ref['err']}" if "err" in ref else ""
        ours_value = names.get(label, label) if label is not None else "–"
        lines.append(f"| {ref['source']} | {ref['row']} | {ours_value} | {metric} | {float(ref['mean']):g}{err} | "
                     f"{ours_text} | {verdict} | {warning} |")
    return lines + ["", VERDICT_RULE]


TREND_COLUMNS = 6  # evaluation steps shown in the trend table: evenly spaced, the last one always


def trend_lines(record: SweepRecord, study: Study) -> list[str]:
    """How each published metric of our compared values moved with generator steps: the mean over the final
    seeds at evenly spaced evaluations. It says whether a number that misses at this budget was still
    improving (a budget effect) or had stopped (a protocol or method gap)."""
    finals = [t for t in record.trials_of(study, "final") if Judge.counts(t.outcome)]
    pairs = list(dict.fromkeys((str(ref["value"]), ref["metric"]) for ref in study.reference or []
                               if ref.get("value") is not None))
    table: dict[tuple[str, str], dict[int, list[float]]] = {}
    for label, metric in pairs:
        for trial in (t for t in finals if t.value == label):
            for step, value in curve(record, trial.run_id, metric):
                table.setdefault((label, metric), {}).setdefault(step, []).append(value)
    if not table:
        return []
    steps = sorted({step for by_step in table.values() for step in by_step})
    columns = min(TREND_COLUMNS, len(steps))
    picked = sorted({steps[round(i * (len(steps) - 1) / max(columns - 1, 1))] for i in range(columns)})
    names = value_names(study)
    sample = finals[0].params
    scored = scored_generator(select_key(record, study), whose="each seed's")
    lines = [f"Mean over the final seeds at each evaluation during training (the `{sample.get('eval.split', '?')}` "
             f"split, {sample.get('eval.n_samples', '?')} generated samples; the table above scores "
             f"{scored} afresh), so a number that misses can be "
             "read as still rising or settled.", "",
             f"| our value | metric | {' | '.join(f'step {s:,}' for s in picked)} |",
             "|---|---|" + "---|" * len(picked)]
    for (label, metric), by_step in table.items():
        cells = [f"{fmt(statistics.mean(by_step[s]), 3)} (n={len(by_step[s])})" if by_step.get(s) else "–"
                 for s in picked]
        lines.append(f"| {names.get(label, label)} | {metric} | {' | '.join(cells)} |")
    return lines
