"""Pulling a sweep back out of MLflow as plain, tidy data (the report reads MLflow and nothing else)."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.sweep.worth import final_worth
from ganbench.tracking.runs import OUTCOME_TAG, REASON_TAG, TRIAL_TAG, Outcome
from ganbench.tracking.store import KIND_TAG, SWEEP_TAG, Tracker

TRIAL_FIELDS = ("run_id", "study", "value", "stage", "seed", "outcome", "failure_reason", "trial_id", "status")


@dataclass
class SweepRecord:
    name: str
    tracker: Tracker
    parent: dict[str, Any]
    studies: list[dict[str, Any]]
    trials: list[dict[str, Any]] = field(default_factory=list)
    benchmark: dict[str, Any] = field(default_factory=dict)   # a benchmark's title, summary and budget

    def study(self, name: str) -> dict[str, Any]:
        return next(s for s in self.studies if s["name"] == name)


def load_sweep_record(name: str, tracking_uri: str) -> SweepRecord:
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        # MLflow would create an empty store there; a report reads, it never creates.
        raise GanbenchError(f"no sweep {name!r}: no MLflow store at {tracking_uri} (run `ganbench sweep` first, "
                            "or pass the store it used with --tracking-uri)")
    tracker = Tracker(tracking_uri, f"ganbench/{name}")
    experiment = tracker.client.get_experiment_by_name(tracker.experiment)
    if experiment is None:
        names = [e.name.removeprefix("ganbench/") for e in tracker.client.search_experiments()
                 if e.name.startswith("ganbench/")]
        raise GanbenchError(f"no sweep {name!r} in {tracking_uri}; sweeps there: {', '.join(sorted(names)) or 'none'}")
    tracker.experiment_id = experiment.experiment_id
    runs = tracker.client.search_runs([experiment.experiment_id], max_results=5000)
    parents = [r for r in runs if r.data.tags.get(KIND_TAG) == "sweep" and r.data.tags.get(SWEEP_TAG) == name]
    if not parents:
        raise GanbenchError(f"sweep {name!r} has no parent run in {tracking_uri}")
    parent = parents[0]
    with tempfile.TemporaryDirectory() as folder:
        path = tracker.client.download_artifacts(parent.info.run_id, "search_space/studies.json", folder)
        studies = json.loads(Path(path).read_text())
        benchmark = {}
        if "search_space/benchmark.json" in {a.path for a in tracker.client.list_artifacts(parent.info.run_id,
                                                                                             "search_space")}:
            path = tracker.client.download_artifacts(parent.info.run_id, "search_space/benchmark.json", folder)
            benchmark = json.loads(Path(path).read_text())
    record = SweepRecord(name, tracker, {"run_id": parent.info.run_id, "params": dict(parent.data.params),
                                         "tags": dict(parent.data.tags), "start_time": parent.info.start_time},
                         studies, benchmark=benchmark)
    for run in runs:
        tags = run.data.tags
        if tags.get(KIND_TAG) != "trial":
            continue
        record.trials.append({
            "run_id": run.info.run_id, "status": run.info.status, "trial_id": tags.get(TRIAL_TAG, ""),
            "study": tags.get("study", ""), "value": tags.get("value", ""), "stage": tags.get("stage", ""),
            "seed": tags.get("seed", ""), "outcome": tags.get(OUTCOME_TAG, "unknown"),
            "failure_reason": tags.get(REASON_TAG, ""), "protocol": tags.get("protocol", ""),
            "final_protocol": tags.get("final_protocol", ""),
            "start_time": run.info.start_time, "end_time": run.info.end_time,
            "params": dict(run.data.params), "metrics": dict(run.data.metrics),
        })
    record.trials.sort(key=lambda t: t["start_time"] or 0)
    return record


def curve(record: SweepRecord, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in record.tracker.client.get_metric_history(run_id, key))


def best_sample_image(record: SweepRecord, run_id: str, folder: Path) -> Path | None:
    """The sample grid of a run's best generator (``samples/best.png``), if the run logged one."""
    client = record.tracker.client
    if "samples/best.png" not in {a.path for a in client.list_artifacts(run_id, "samples")}:
        return None
    return Path(client.download_artifacts(run_id, "samples/best.png", str(folder)))


def pull_checkpoint(reference: str, tracking_uri: str, folder: Path) -> Path:
    """A run's best checkpoint from MLflow: ``reference`` is a run id or ``sweep:value:best`` (the value's
    best final-stage run, falling back to its best search run)."""
    tracker = Tracker(tracking_uri, "")
    run_id = reference
    if reference.count(":") == 2:
        sweep, value, which = reference.split(":")
        if which != "best":
            raise GanbenchError(f"{reference}: expected SWEEP:VALUE:best")
        record = load_sweep_record(sweep, tracking_uri)
        candidates = [t for t in record.trials if t["value"] == value and t["outcome"] == Outcome.COMPLETED.value]
        if not candidates:
            values = sorted({t["value"] for t in record.trials})
            raise GanbenchError(f"{reference}: no completed run for value {value!r}; values: {', '.join(values)}")
        study = record.study(candidates[0]["study"])
        finals = [t for t in candidates if t["stage"] == "final"] or candidates
        sign = 1 if study["mode"] == "min" else -1

        def score(trial: dict[str, Any]) -> float:
            value = final_worth(trial["metrics"], study["metric"])
            return math.inf if value is None else sign * value

        run_id = min(finals, key=score)["run_id"]
    try:
        return Path(tracker.client.download_artifacts(run_id, "checkpoint/checkpoint.pt", str(folder)))
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing run or artifact
        raise GanbenchError(f"{reference}: no checkpoint artifact in {tracking_uri} ({type(exc).__name__})") from None
