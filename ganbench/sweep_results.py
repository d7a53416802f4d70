"""What a sweep stage produced, as plain data: each trial's outcome, each value's best config, summaries."""

from __future__ import annotations

import statistics
from typing import Any

from ganbench.sweep_spec import Study


def outcome(row: dict[str, Any], steps: int) -> str:
    metrics = row["metrics"]
    if row["error"] or metrics.get("failed"):
        return "failed"
    if metrics.get("diverged"):
        return "diverged"
    return "completed" if metrics.get("step", 0) >= steps else "stopped_early"


def judged(metrics: dict[str, Any], study: Study) -> float | None:
    """What a search trial is judged on: the study's objective, or its last evaluation when the run selected no
    checkpoint (then its last generator is what it keeps)."""
    return metrics.get(study.objective, metrics.get(study.metric))


def best_configs(rows: list[dict[str, Any]], study: Study, steps: int) -> dict[str, dict[str, Any]]:
    """Each value's best search config: full-budget trials first, ranked on the study's objective (each
    trial's best checkpoint unless the study ranks on the last evaluation)."""
    best: dict[str, tuple[tuple[int, float], dict[str, Any]]] = {}
    sign = 1.0 if study.mode == "min" else -1.0
    for row in rows:
        kind = outcome(row, steps)
        score = judged(row["metrics"], study)
        if kind in ("failed", "diverged") or score is None:
            continue
        key = (0 if kind == "completed" else 1, sign * score)
        label = row["meta"]["value"]
        if label not in best or key < best[label][0]:
            best[label] = (key, row["config"])
    return {label: config for label, (_, config) in best.items()}


def summarise(rows: list[dict[str, Any]], study: Study, steps: int) -> dict[str, Any]:
    table: dict[str, Any] = {}
    final_key = f"final_eval_{study.metric}"
    for row in rows:
        entry = table.setdefault(row["meta"]["value"], {"completed": 0, "stopped_early": 0, "diverged": 0,
                                                        "failed": 0, "values": []})
        kind = outcome(row, steps)
        entry[kind] += 1
        value = row["metrics"].get(final_key, judged(row["metrics"], study))
        if kind in ("completed", "stopped_early") and value is not None:
            entry["values"].append(float(value))
    return table


def format_summary(study: Study, record: dict[str, Any]) -> str:
    pick = min if study.mode == "min" else max
    judged = "best checkpoint" if study.rank_on == "best" else "last evaluation"
    lines = [f"study {study.name} ({study.metric}, {study.mode}; search = each trial's {judged}, "
             f"final = mean ± std over the final-stage seeds)"]
    for label, entry in record.get("search", {}).items():
        final = record.get("final", {}).get(label, {})
        values = final.get("values", [])
        final_text = (f"final {statistics.mean(values):.4g} ± {statistics.stdev(values) if len(values) > 1 else 0:.2g} "
                      f"(n={len(values)})") if values else "final -"
        best = f"{pick(entry['values']):.4g}" if entry["values"] else "-"
        lines.append(f"  {label:<24} search best {best:<10} {final_text:<28} completed {entry['completed']}, "
                     f"stopped {entry['stopped_early']}, diverged {entry['diverged']}, failed {entry['failed']}")
    return "\n".join(lines)

