"""One sweep trial's bookkeeping in MLflow: params, curves, sample grids, its final evaluation and its best
checkpoint (no Ray in here).

The run is opened and closed through ``TrialRuns`` (found by the Ray trial id, so a restored trial reuses
it); evaluations at or below the last logged step are skipped, so a resumed trial never logs a step twice.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from ganbench.config import Config, to_flat
from ganbench.metrics import keys
from ganbench.tracking import record
from ganbench.tracking.runs import Outcome, TrialRuns
from ganbench.training import checkpoint
from ganbench.training.final import FinalEvaluation
from ganbench.training.plots import samples_image, samples_raster
from ganbench.training.sampling import dataset_of, draw, load_generator

SAMPLE_GRID = 100
SAMPLE_POINTS = 1000
# The parts of a training state that a "best checkpoint" artifact needs (no optimizer state).
ARTIFACT_KEYS = ("format", "ganbench_version", "config", "step", "generator", "best", "best_step", "best_generator",
                 "ema_generator", "threads")


class TrialLogger:
    def __init__(self, runs: TrialRuns, trial_id: str, meta: dict[str, Any]) -> None:
        self.runs, self.tracker, self.trial_id, self.meta = runs, runs.tracker, trial_id, meta
        self.run_id = ""
        self.closed = False
        self.last_logged = -1
        self.started = time.perf_counter()
        self.tracking_s = 0.0  # time spent on MLflow (and rendering what goes to it), reported per trial
        self.best_state: dict[str, Any] | None = None

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.tracking_s += time.perf_counter() - started

    def start(self, config: Config, placement: Mapping[str, str] | None = None, trial_dir: str = "") -> list[str]:
        """Open (or reopen) the trial's run; ``placement`` tags where this attempt runs (device, node) and
        ``trial_dir`` names the folder it checkpoints into. Returns the folders of every attempt so far."""
        with self._timed():
            self.run_id, self.last_logged = self.runs.open(self.trial_id, self.meta, config.seed)
            self.closed = self.runs.closed(self.run_id)
            if self.closed:
                return []
            self.tracker.log_params(self.run_id, to_flat(config))
            if placement:
                self.tracker.set_tags(self.run_id, placement)
            return self.runs.record_attempt(self.run_id, trial_dir) if trial_dir else []

    def note_resume(self, step: int | None, unreadable: list[str]) -> None:
        """Tag what this attempt continued from (a checkpoint's step, or step 0 when none could be read), and the
        checkpoints it could not read, so a reader sees how much a fault cost."""
        resumed_from = f"step {step}" if step is not None else "step 0 (no readable checkpoint)"
        self.tracker.set_tags(self.run_id, record.unreadable_tags(unreadable, resumed_from) if unreadable
                              else {record.FALLBACK_TAG: resumed_from})

    def recorded_metrics(self) -> dict[str, float]:
        """The last values a closed run logged (Tune replays such a trial after a killed driver resumes)."""
        return self.tracker.metrics(self.run_id)

    def log_evaluation(self, metrics: dict[str, float], state: dict[str, Any] | None, config: Config) -> None:
        with self._timed():
            self._log_evaluation(metrics, state, config)

    def _log_evaluation(self, metrics: dict[str, float], state: dict[str, Any] | None, config: Config) -> None:
        step = int(metrics["step"])
        if state is not None:  # keep what the artifact needs; the live state changes as training goes on
            self.best_state = {key: copy.deepcopy(state[key]) for key in ARTIFACT_KEYS if key in state}
        if step <= self.last_logged:
            return
        self.tracker.log_metrics(self.run_id, metrics, step)
        if state is not None:
            self.tracker.log_image(self.run_id, self._sample_image(state, config), key="samples", step=step)
        self.last_logged = step

    def _sample_image(self, state: dict[str, Any], config: Config) -> Any:
        dataset = dataset_of(config)
        count = SAMPLE_GRID if dataset.spec(config).is_image else SAMPLE_POINTS
        samples = draw(load_generator(state, config, "final"), config, count, seed=0)
        return samples_raster(samples, dataset)  # per evaluation: a raster, not a matplotlib figure

    def _save_best_samples(self, path: Path) -> None:
        config = checkpoint.config_of(self.best_state)
        dataset = dataset_of(config)
        count = SAMPLE_GRID if dataset.spec(config).is_image else SAMPLE_POINTS
        samples = draw(load_generator(self.best_state, config, "best"), config, count, seed=0)

        step = self.best_state.get("best_step") or self.best_state["step"]
        Image.fromarray(samples_image(samples, dataset, title=f"{self.meta['value']}, best (step {step})")).save(path)

    def _not_yet_logged(self, metrics: dict[str, float]) -> dict[str, float]:
        """A driver killed in the middle of ``finish`` leaves the run open; the replayed trial must not log again."""
        existing = self.tracker.metrics(self.run_id)
        return {k: v for k, v in metrics.items() if k not in existing}

    def log_final_evaluation(self, final: FinalEvaluation) -> dict[str, float]:
        """Log the final evaluation's scores (as ``final_eval_*``) and protocol; returns what was logged."""
        scores = {keys.final_eval(key): value for key, value in final.scores.items()}
        self.tracker.log_metrics(self.run_id, self._not_yet_logged(scores), step=max(self.last_logged, 0))
        self.tracker.set_tags(self.run_id, record.protocol_tags(final=final.protocol))
        return scores

    def finish(self, result: dict[str, Any], outcome: Outcome) -> None:
        """Log ``train``'s result, the best checkpoint and its samples, and close the run with ``outcome`` (the
        study's judge decides it)."""
        finishing = time.perf_counter()
        # best_* went in with its evaluation; logging it again at the same step would duplicate points.
        summary = {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and (keys.prefix_of(k) != keys.BEST or k == "best_step")}
        self.tracker.log_metrics(self.run_id, self._not_yet_logged(summary), step=max(self.last_logged, 0))
        if self.best_state is not None:
            with tempfile.TemporaryDirectory() as folder:
                path = checkpoint.save(self.best_state, Path(folder) / "checkpoint.pt")
                self.tracker.log_artifact(self.run_id, path, "checkpoint")
                self._save_best_samples(Path(folder) / "best.png")
                self.tracker.log_artifact(self.run_id, Path(folder) / "best.png", "samples")
        self.tracking_s += time.perf_counter() - finishing
        self.tracker.log_metrics(self.run_id, self._not_yet_logged({"tracking_s": self.tracking_s,
                                                                     "trial_wall_s": time.perf_counter() - self.started}),
                                 step=max(self.last_logged, 0))
        self.runs.close(self.run_id, outcome, tags=record.protocol_tags(result.get("protocol", {})))

    def fail(self, error: BaseException) -> None:
        if not self.run_id:  # failed before its run was opened (e.g. its config did not resolve)
            self.run_id, _ = self.runs.open(self.trial_id, self.meta)
        self.runs.close(self.run_id, Outcome.FAILED, reason=f"{type(error).__name__}: {error}")
