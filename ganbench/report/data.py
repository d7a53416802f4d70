"""Pulling a sweep back out of MLflow as plain, tidy data (the report reads MLflow and nothing else)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.sweep.spec import Study
from ganbench.tracking.record import Outcome, TrialRecord, is_trial, read
from ganbench.tracking.store import KIND_TAG, SWEEP_TAG, Tracker


@dataclass
class SweepRecord:
    name: str
    tracker: Tracker
    parent: dict[str, Any]
    studies: list[Study]
    trials: list[TrialRecord] = field(default_factory=list)
    benchmark: dict[str, Any] = field(default_factory=dict)   # a benchmark's title, summary and budget

    def study(self, name: str) -> Study:
        return next(s for s in self.studies if s.name == name)

    def trials_of(self, study: Study, stage: str | None = None, value: str | None = None) -> list[TrialRecord]:
        """The study's trials (of one stage and compared value, if given), in start order."""
        return [t for t in self.trials if t.study == study.name and stage in (None, t.stage)
                and value in (None, t.value)]


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
        studies = [Study.described(d) for d in json.loads(Path(path).read_text())]
        benchmark = {}
        if "search_space/benchmark.json" in {a.path for a in tracker.client.list_artifacts(parent.info.run_id,
                                                                                             "search_space")}:
            path = tracker.client.download_artifacts(parent.info.run_id, "search_space/benchmark.json", folder)
            benchmark = json.loads(Path(path).read_text())
    sweep = SweepRecord(name, tracker, {"run_id": parent.info.run_id, "params": dict(parent.data.params),
                                        "tags": dict(parent.data.tags), "start_time": parent.info.start_time},
                        studies, benchmark=benchmark)
    sweep.trials = sorted((read(run) for run in runs if is_trial(run)),
                          key=lambda t: t.start_time or 0)
    return sweep


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
        found = load_sweep_record(sweep, tracking_uri)
        candidates = [t for t in found.trials if t.value == value and t.outcome is Outcome.COMPLETED]
        if not candidates:
            values = sorted({t.value for t in found.trials})
            raise GanbenchError(f"{reference}: no completed run for value {value!r}; values: {', '.join(values)}")
        judge = found.study(candidates[0].study).judge
        finals = [t for t in candidates if t.stage == "final"] or candidates
        # Each run by the end it delivered (its final evaluation, else its last): a run missing the metric is last.
        run_id = judge.pick((t.run_id, judge.final_worth(t.metrics)) for t in finals)
    try:
        return Path(tracker.client.download_artifacts(run_id, "checkpoint/checkpoint.pt", str(folder)))
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing run or artifact
        raise GanbenchError(f"{reference}: no checkpoint artifact in {tracking_uri} ({type(exc).__name__})") from None
