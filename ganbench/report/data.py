"""Pulling a sweep back out of MLflow as plain, tidy data (the report reads MLflow and nothing else)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError, choices_hint
from ganbench.sweep.judge import Judge
from ganbench.sweep.study import Study
from ganbench.tracking.record import TrialRecord, is_trial, read
from ganbench.tracking.store import Tracker


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
    if not tracker.open_existing():
        names = tracker.sweep_names()
        raise GanbenchError(f"no sweep {name!r} in {tracking_uri}; {choices_hint(name, names)}")
    runs = tracker.runs()
    parents = [r for r in runs if tracker.is_parent(r, name)]
    if not parents:
        raise GanbenchError(f"sweep {name!r} has no parent run in {tracking_uri}")
    parent = parents[0]
    with tempfile.TemporaryDirectory() as folder:
        path = tracker.download(parent.info.run_id, "search_space/studies.json", folder)
        studies = [Study.described(d) for d in json.loads(path.read_text())]
        benchmark = {}
        if "search_space/benchmark.json" in tracker.artifact_paths(parent.info.run_id, "search_space"):
            benchmark = json.loads(tracker.download(parent.info.run_id, "search_space/benchmark.json", folder).read_text())
    sweep = SweepRecord(name, tracker, {"run_id": parent.info.run_id, "params": dict(parent.data.params),
                                        "start_time": parent.info.start_time},
                        studies, benchmark=benchmark)
    sweep.trials = sorted((read(run) for run in runs if is_trial(run)),
                          key=lambda t: t.start_time or 0)
    return sweep


def curve(record: SweepRecord, run_id: str, key: str) -> list[tuple[int, float]]:
    return record.tracker.history(run_id, key)


def best_sample_image(record: SweepRecord, run_id: str, folder: Path) -> Path | None:
    """The sample grid of a run's best generator (``samples/best.png``), if the run logged one."""
    if "samples/best.png" not in record.tracker.artifact_paths(run_id, "samples"):
        return None
    return record.tracker.download(run_id, "samples/best.png", folder)


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
        candidates = [t for t in found.trials if t.value == value and Judge.counts(t.outcome)]
        if not candidates:
            values = sorted({t.value for t in found.trials})
            raise GanbenchError(f"{reference}: no run of value {value!r} delivered numbers (completed or stopped "
                                f"early); values: {', '.join(values)}")
        judge = found.study(candidates[0].study).judge
        finals = [t for t in candidates if t.stage == "final"] or candidates
        # Each run by the end it delivered (its final evaluation, else its last): a run missing the metric is last.
        run_id = judge.pick((t.run_id, judge.final_worth(t.metrics)) for t in finals)
    try:
        return tracker.download(run_id, "checkpoint/checkpoint.pt", folder)
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing run or artifact
        raise GanbenchError(f"{reference}: no checkpoint artifact in {tracking_uri} ({type(exc).__name__})") from None
