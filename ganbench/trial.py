"""One sweep trial's bookkeeping: its MLflow child run and its final evaluation (no Ray in here).

The child run is found or created by the Ray trial id, so a restored trial reuses it; evaluations
at or below the last logged step are skipped, so a resumed trial never logs a step twice.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ganbench import checkpoint
from ganbench.config import Config, to_flat
from ganbench.tracking import Tracker

SAMPLE_GRID = 100
SAMPLE_POINTS = 1000
# The parts of a training state that a "best checkpoint" artifact needs (no optimizer state).
ARTIFACT_KEYS = ("format", "ganbench_version", "config", "step", "generator", "best", "best_step", "best_generator",
                 "ema_generator", "threads")


class TrialLogger:
    def __init__(self, tracker: Tracker, parent_run_id: str, trial_id: str, meta: dict[str, Any], sweep: str) -> None:
        self.tracker, self.parent_run_id, self.trial_id = tracker, parent_run_id, trial_id
        self.meta, self.sweep = meta, sweep
        self.run_id = ""
        self.closed = False
        self.last_logged = -1
        self.started = time.perf_counter()
        self.tracking_s = 0.0  # time spent on MLflow (and rendering what goes to it), reported per trial
        self.best_state: dict[str, Any] | None = None
        self._generator: Any = None

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.tracking_s += time.perf_counter() - started

    def start(self, config: Config) -> None:
        with self._timed():
            self._start(config)

    def _start(self, config: Config) -> None:
        tags = {"sweep": self.sweep, "study": self.meta["study"], "value": self.meta["value"],
                "stage": self.meta["stage"], "seed": str(config.seed), "outcome": "running"}
        name = f"{self.meta['study']}-{self.meta['value']}-{self.meta['stage']}-{self.trial_id}"
        self.run_id, self.last_logged = self.tracker.child_run(self.parent_run_id, self.trial_id, name, tags)
        self.closed = self.tracker.closed(self.run_id)
        if not self.closed:
            self.tracker.log_params(self.run_id, to_flat(config))

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
        from ganbench.plots import samples_raster
        from ganbench.sampling import dataset_of, draw, load_generator

        dataset = dataset_of(config)
        count = SAMPLE_GRID if dataset.spec(config).is_image else SAMPLE_POINTS
        samples = draw(load_generator(state, config, "final"), config, count, seed=0)
        return samples_raster(samples, dataset)  # per evaluation: a raster, not a matplotlib figure

    def _save_best_samples(self, path: Path) -> None:
        from PIL import Image

        from ganbench.sampling import dataset_of, draw, load_generator

        config = checkpoint.config_of(self.best_state)
        dataset = dataset_of(config)
        count = SAMPLE_GRID if dataset.spec(config).is_image else SAMPLE_POINTS
        samples = draw(load_generator(self.best_state, config, "best"), config, count, seed=0)
        from ganbench.plots import samples_image

        step = self.best_state.get("best_step") or self.best_state["step"]
        Image.fromarray(samples_image(samples, dataset, title=f"{self.meta['value']}, best (step {step})")).save(path)

    def _not_yet_logged(self, metrics: dict[str, float]) -> dict[str, float]:
        """A driver killed in the middle of ``finish`` leaves the run open; the replayed trial must not log again."""
        existing = self.tracker.metrics(self.run_id)
        return {k: v for k, v in metrics.items() if k not in existing}

    def log_final_evaluation(self, scores: dict[str, float], protocol: dict[str, Any]) -> None:
        self.tracker.log_metrics(self.run_id, self._not_yet_logged(scores), step=max(self.last_logged, 0))
        self.tracker.set_tags(self.run_id, {"final_protocol": str(protocol)[:5000]})

    def finish(self, result: dict[str, Any]) -> None:
        finishing = time.perf_counter()
        # best_* went in with its evaluation; logging it again at the same step would duplicate points.
        summary = {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and (not k.startswith("best_") or k == "best_step")}
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
        self.tracker.set_tags(self.run_id, {"outcome": "diverged" if result["diverged"] else "completed",
                                            "protocol": str(result.get("protocol", {}))[:5000]})
        self.tracker.finish(self.run_id, "FINISHED")

    def fail(self, error: BaseException) -> None:
        if not self.run_id:
            name = f"{self.meta['study']}-{self.meta['value']}-{self.meta['stage']}-{self.trial_id}"
            self.run_id, _ = self.tracker.child_run(self.parent_run_id, self.trial_id, name, {
                "sweep": self.sweep, "study": self.meta["study"], "value": self.meta["value"],
                "stage": self.meta["stage"]})
        reason = f"{type(error).__name__}: {error}"[:4000]
        self.tracker.set_tags(self.run_id, {"outcome": "failed", "failure_reason": reason})
        self.tracker.finish(self.run_id, "FAILED")


def final_evaluation(state: dict[str, Any] | None, config: Config,
                     real_sides: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """The leaderboard number: the best generator at ``eval.final_n_samples`` with fresh noise, against
    ``eval.final_split``, every image metric; keys prefixed ``final_eval_``. Returns (scores, protocol)."""
    from ganbench.evaluation import Evaluator, generate
    from ganbench.metrics.image import FIDELITY
    from ganbench.sampling import dataset_of, load_generator

    if state is None:
        return {}, {}
    config = replace(config, eval=replace(config.eval, n_samples=config.eval.final_n_samples,
                                          split=config.eval.final_split, fidelity=FIDELITY))
    evaluator = Evaluator(dataset_of(config), config, torch.device("cpu"), real_sides)
    samples = generate(load_generator(state, config, "best"), config, config.eval.final_n_samples,
                       seed=config.seed + 7_777_777, device=torch.device("cpu"))
    scores: dict[str, float] = {}
    for metric in evaluator.metrics:
        scores.update(metric(samples))
    return {f"final_eval_{k}": v for k, v in scores.items()}, evaluator.protocol
