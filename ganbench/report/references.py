"""Published numbers beside ours: a verdict per reference row within its stated tolerance, the protocol
differences, and how our numbers moved with generator steps."""

from __future__ import annotations

import statistics

from ganbench.metrics import known_direction
from ganbench.report.data import SweepRecord, curve
from ganbench.report.leaderboard import fmt, value_names
from ganbench.sweep.judge import Judge
from ganbench.sweep.study import Study

PROTOCOL_KEYS = {"steps": "train.steps", "n_samples": "eval.final_n_samples", "batch_size": "train.batch_size",
                 "data": "data.name", "model": "model.name"}


def reference_judge(study: Study, metric: str) -> Judge | None:
    """The judge of a published row's metric: the study's own, or one in the direction the metric declares (None
    if no registered metric declares it: then no verdict says better or worse)."""
    if metric == study.metric:
        return study.judge
    direction = known_direction(metric)
    return Judge(metric, direction, study.rank_on, study.judge.steps) if direction is not None else None


def reference_lines(record: SweepRecord, study: Study) -> list[str]:
    """Ours and theirs side by side: a verdict per row by its stated tolerance, and protocol differences."""
    finals = record.trials_of(study, "final")
    ours_params = finals[0].params if finals else {}
    lines = ["| source | their row | our value | metric | theirs | ours (final seeds) | verdict | protocol |",
             "|---|---|---|---|---|---|---|---|"]
    for ref in study.reference:
        metric = ref["metric"]
        judge = reference_judge(study, metric)
        values = [v for t in finals if t.value == str(ref.get("value")) and Judge.counts(t.outcome)
                  and (v := study.judge.final_worth(t.metrics, metric)) is not None]
        theirs = float(ref["mean"])
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
            elif judge is None:
                verdict = "outside the tolerance (no metric says which way is better)"
            else:
                verdict = judge.verdict(gap)
        ours_protocol = {**{k: ours_params.get(key) for k, key in PROTOCOL_KEYS.items()},
                         "configs": study.num_samples, "seeds": study.seeds}
        differs = [f"{k}: theirs {v}, ours {ours_protocol.get(k)}" for k, v in (ref.get("protocol") or {}).items()
                   if k in ours_protocol and str(v) != str(ours_protocol[k])]
        warning = ("⚠ differs: " + "; ".join(differs)) if differs else "same" if ref.get("protocol") else "–"
        err = f" ± {ref['err']}" if "err" in ref else ""
        ours_value = value_names(study).get(str(ref["value"]), str(ref["value"])) if ref.get("value") is not None else "–"
        lines.append(f"| {ref['source']} | {ref['row']} | {ours_value} | {metric} | {theirs:g}{err} | {ours_text} | "
                     f"{verdict} | {warning} |")
    return lines


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
    lines = [f"Mean over the final seeds at each evaluation during training (the `{sample.get('eval.split', '?')}` "
             f"split, {sample.get('eval.n_samples', '?')} generated samples; the table above scores the final "
             "generator afresh), so a number that misses can be read as still rising or settled.", "",
             f"| our value | metric | {' | '.join(f'step {s:,}' for s in picked)} |",
             "|---|---|" + "---|" * len(picked)]
    for (label, metric), by_step in table.items():
        cells = [f"{fmt(statistics.mean(by_step[s]), 3)} (n={len(by_step[s])})" if by_step.get(s) else "–"
                 for s in picked]
        lines.append(f"| {names.get(label, label)} | {metric} | {' | '.join(cells)} |")
    return lines
