"""What a sweep stage produced, as plain data: each trial's outcome, each value's best config, summaries."""

from __future__ import annotations

import statistics
from typing import Any

from ganbench.sweep.spec import Study
from ganbench.sweep.worth import search_worth, worth
from ganbench.tracking.runs import COUNTED, Outcome


def outcome(row: dict[str, Any], steps: int) -> Outcome:
    metrics = row["metrics"]
    if row["error"] or metrics.get("failed"):
        return Outcome.FAILED
    if metrics.get("diverged"):
        return Outcome.DIVERGED
    return Outcome.COMPLETED if metrics.get("step", 0) >= steps else Outcome.STOPPED_EARLY


def best_configs(rows: list[dict[str, Any]], study: Study, steps: int) -> dict[str, dict[str, Any]]:
    """Each value's best search config: full-budget trials first, ranked on the study's objective (each
    trial's best checkpoint unless the study ranks on the last evaluation)."""
    best: dict[str, tuple[tuple[int, float], dict[str, Any]]] = {}
    sign = 1.0 if study.mode == "min" else -1.0
    for row in rows:
        kind = outcome(row, steps)
        score = search_worth(row["metrics"], study.metric, study.rank_on)
        if not kind.delivered or score is None:
            continue
        key = (0 if kind is Outcome.COMPLETED else 1, sign * score)
        label = row["meta"]["value"]
        if label not in best or key < best[label][0]:
            best[label] = (key, row["config"])
    return {label: config for label, (_, config) in best.items()}


def summarise(rows: list[dict[str, Any]], study: Study, steps: int) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for row in rows:
        entry = table.setdefault(row["meta"]["value"], {**{kind.value: 0 for kind in COUNTED}, "values": []})
        kind = outcome(row, steps)
        entry[kind.value] += 1
        value = worth(row["metrics"], study.metric, study.rank_on, row["meta"]["stage"])
        if kind.delivered and value is not None:
            entry["values"].append(float(value))
    return table


def format_summary(study: Study, record: dict[str, Any]) -> str:
    pick = min if study.mode == "min" else max
    judged = "best checkpoint" if study.rank_on == "best" else "last evaluation"
    lines = [f"study {study.name} ({study.metric}, {study.mode}; search = each trial's {judged}, "
             f"final = mean ± std over the final-stage seeds)"]
    search, finals = record.get("search", {}), record.get("final", {})
    for label in dict.fromkeys([*search, *finals]):  # a study with no search (num_samples 0) has finals only
        values = finals.get(label, {}).get("values", [])
        final_text = (f"final {statistics.mean(values):.4g} ± {statistics.stdev(values) if len(values) > 1 else 0:.2g} "
                      f"(n={len(values)})") if values else "final -"
        searched = search.get(label, {}).get("values", [])
        best = f"{pick(searched):.4g}" if searched else ("-" if search else "(no search)")
        counts = {kind.value: search.get(label, {}).get(kind.value, 0) + finals.get(label, {}).get(kind.value, 0)
                  for kind in COUNTED}
        lines.append(f"  {label:<24} search best {best:<10} {final_text:<28} completed {counts['completed']}, "
                     f"stopped {counts['stopped_early']}, diverged {counts['diverged']}, failed {counts['failed']}")
    return "\n".join(lines)

