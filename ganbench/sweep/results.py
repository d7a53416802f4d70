"""What a sweep stage produced, as plain data: each value's best config and each value's counts and numbers,
judged by the study's ``Judge``."""

from __future__ import annotations

from typing import Any

from ganbench.sweep.judge import Judge
from ganbench.sweep.study import Study
from ganbench.tracking.record import COUNTED, Outcome


def row_outcome(row: dict[str, Any], judge: Judge) -> Outcome:
    """How a trial of a stage's rows (``run_stage``) ended."""
    return judge.outcome(row["metrics"], error=bool(row["error"]))


def best_configs(rows: list[dict[str, Any]], study: Study) -> dict[str, dict[str, Any]]:
    """Each value's best search config: full-budget trials first, ranked on the study's objective (each
    trial's best checkpoint unless the study ranks on the last evaluation). A tie goes to the trial handed out
    first: Tune lists a restored experiment's trials in another order, and counts such as modes tie often."""
    judge = study.judge
    best: dict[str, tuple[tuple[int, tuple[bool, float], int], dict[str, Any]]] = {}
    for row in rows:
        kind = row_outcome(row, judge)
        score = judge.search_worth(row["metrics"])
        if not judge.counts(kind) or score is None:
            continue
        key = (0 if kind is Outcome.COMPLETED else 1, judge.rank_key(score), int(row["meta"].get("index", 0)))
        label = row["meta"]["value"]
        if label not in best or key < best[label][0]:
            best[label] = (key, row["config"])
    return {label: config for label, (_, config) in best.items()}


def summarise(rows: list[dict[str, Any]], study: Study) -> dict[str, Any]:
    judge = study.judge
    table: dict[str, Any] = {}
    for row in rows:
        entry = table.setdefault(row["meta"]["value"], {**{kind.value: 0 for kind in COUNTED}, "values": []})
        kind = row_outcome(row, judge)
        entry[kind.value] += 1
        value = judge.worth(row["metrics"], row["meta"]["stage"])
        if judge.counts(kind) and value is not None:
            entry["values"].append(float(value))
    return table


def format_summary(study: Study, record: dict[str, Any]) -> str:
    judge = study.judge
    judged = "best checkpoint" if study.rank_on == "best" else "last evaluation"
    lines = [f"study {study.name} ({study.metric}, {study.mode}; search = each trial's {judged}, "
             f"final = mean ± std over the final-stage seeds)"]
    search, finals = record.get("search", {}), record.get("final", {})
    for label in dict.fromkeys([*search, *finals]):  # a study with no search (num_samples 0) has finals only
        values = finals.get(label, {}).get("values", [])
        final_text = f"final {judge.mean_sd(values)}" if values else "final -"
        searched = search.get(label, {}).get("values", [])
        best = f"{judge.best(searched):.4g}" if searched else ("-" if search else "(no search)")
        counts = {kind.value: search.get(label, {}).get(kind.value, 0) + finals.get(label, {}).get(kind.value, 0)
                  for kind in COUNTED}
        lines.append(f"  {label:<24} search best {best:<10} {final_text:<28} completed {counts['completed']}, "
                     f"stopped {counts['stopped_early']}, diverged {counts['diverged']}, failed {counts['failed']}")
    return "\n".join(lines)
