"""Trials a killed driver left behind, found again in MLflow and in ``--storage`` (no Ray in here).

Tune saves its experiment state every so often. A driver killed between two saves has started trials that
the restored state never knew: Tune would replace them with new trials and their MLflow runs would stay open.
Their runs and their checkpoints outlive the driver, though: every attempt of a trial tags its run with the
folder Tune gives it under the stage's experiment (``TrialRuns.record_attempt``), and every evaluation puts a
checkpoint there. So an *orphan* (a run of this stage that the restored searcher never handed out) is
continued from its newest checkpoint, in its own run, or, with no checkpoint to continue from, closed as lost
and replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyarrow import fs as pafs

from ganbench.sweep.state import filesystem_of, join
from ganbench.tracking import record
from ganbench.tracking.runs import Outcome, TrialRuns

CHECKPOINT_FILE = "state.pt"  # what a complete checkpoint folder holds (written by the trial, then uploaded)
NO_CHECKPOINT = ("lost: its driver was killed before Tune saved its experiment state, and no checkpoint of it "
                 "reached --storage, so the resumed sweep ran a replacement")
NO_CONFIG = ("lost: its driver was killed before Tune saved its experiment state, and its config could not be "
             "rebuilt (its Optuna trial carries no trial id: an older ganbench), so the resumed sweep ran a replacement")


@dataclass(frozen=True)
class Orphan:
    """A run of this stage that the restored Tune state does not know."""

    trial_id: str           # the run's ganbench.trial_id: the Ray trial id of its first attempt
    run_id: str
    value: str
    seed: int | None
    finished: bool          # its outcome was recorded before the kill: replay it, train nothing
    checkpoint: str | None  # its newest complete checkpoint folder in --storage, as a path or URI


def latest_checkpoint(experiment: str, trial_dirs: list[str]) -> str | None:
    """The newest complete ``checkpoint_NNNNNN`` folder under ``experiment`` (a path or URI), looking in the
    trial's attempts from the last: each attempt starts from the previous one's newest checkpoint."""
    filesystem, root = filesystem_of(experiment)
    for trial_dir in reversed(trial_dirs):
        folder = f"{root.rstrip('/')}/{trial_dir}"
        found = filesystem.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        names = sorted(info.base_name for info in found
                       if info.type == pafs.FileType.Directory and info.base_name.startswith("checkpoint_"))
        for name in reversed(names):  # a checkpoint cut off mid-upload has no state file yet
            if filesystem.get_file_info(f"{folder}/{name}/{CHECKPOINT_FILE}").type == pafs.FileType.File:
                return join(experiment, trial_dir, name)
    return None


def find_orphans(runs: TrialRuns, study: str, stage: str, known: set[str], experiment: str) -> list[Orphan]:
    """Runs of ``study``'s ``stage`` whose trial id is not in ``known`` (what the restored searcher handed out)
    and that were not already closed as lost, each with its newest checkpoint under ``experiment``."""
    orphans = []
    for run in runs.of_stage(study, stage):
        trial = record.read(run)
        if trial.trial_id in known or trial.outcome is Outcome.LOST:
            continue
        finished = trial.outcome is None or not trial.outcome.open  # an interrupted run continues like a running one
        orphans.append(Orphan(trial_id=trial.trial_id, run_id=trial.run_id, value=trial.value, seed=trial.seed,
                              finished=finished,
                              checkpoint=None if finished else latest_checkpoint(experiment, list(trial.attempts))))
    return orphans


def adopted_meta(meta: dict[str, Any], orphan: Orphan) -> dict[str, Any]:
    """A new Ray trial's META that continues ``orphan`` in its run (whose attempts lead to its checkpoint)."""
    return {**meta, "run_trial_id": orphan.trial_id}


def run_identity(trial_id: str, meta: dict[str, Any]) -> str:
    """The trial id a Ray trial's MLflow run is filed under: its own, or the orphan's it continues."""
    return meta.get("run_trial_id") or trial_id
