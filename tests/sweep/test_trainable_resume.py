"""A sweep trial gives the numbers ``train`` gives alone, and resumed from its checkpoint it continues exactly where
the uninterrupted trial went: the trainable (MLflow logging and Tune checkpoints around ``train``) runs in-process,
with Tune's and Ray's calls faked.

On 7d0414d neither held: each evaluation's sample image rebuilt a generator, drawing its initial weights from the
global random stream that training goes on with. So a sweep trial drew other numbers than ``ganbench train`` of its
config from its second evaluation on, and a trial resumed after Ctrl-C (whose checkpoint recorded the stream before
the image) other numbers than the uninterrupted one, so that a resumed sweep could pick another config (seen in
tests/sweep/test_faults.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ganbench.config import resolve
from ganbench.sweep.spec import load_sweep
from ganbench.sweep.tuner import trainable
from ganbench.sweep.tuner.trainable import META, TrialContext, run_trial, split_trial_config
from ganbench.tracking.runs import TrialRuns
from ganbench.tracking.store import Tracker
from ganbench.training.loop import train
from tests.infra import fake_tune_and_ray

STUDY = load_sweep(Path(__file__).resolve().parent / "files" / "tiny.yaml").studies[0]
TIMING = ("wall", "_s", "time")
PARAMS = {**STUDY.config(STUDY.values()[0], {"optim.lr_g": 1e-3}),
          META: {"study": STUDY.name, "value": STUDY.label(STUDY.values()[0]), "stage": "search", "index": 0}}


def run(monkeypatch, tmp_path: Path, name: str, resume_from: Path | None) -> tuple[list[dict], list[Path]]:
    """One trial of tiny.yaml's first value in its own store: what it delivered to Tune, and its checkpoints."""
    delivered, saved = [], []

    def report(result: dict, checkpoint=None) -> None:
        delivered.append(dict(result))
        if checkpoint is not None:  # Tune persists the folder; the trainable deletes its temporary one
            saved.append(Path(shutil.copytree(checkpoint.path, tmp_path / name / f"checkpoint_{len(saved)}")))

    restored = trainable.tune.Checkpoint.from_directory(str(resume_from)) if resume_from else None
    fake_tune_and_ray(monkeypatch, name, str(tmp_path / name), report, restored)
    tracker = Tracker(f"sqlite:///{tmp_path / f'{name}.db'}", "ganbench/unit").open()
    tracker.ensure_experiment()
    runs = TrialRuns(tracker, "unit", tracker.parent_run("unit", {}))
    run_trial(PARAMS, TrialContext(runs=runs, judge=STUDY.judge, sentinel=9.0, cpus=1, real_sides={},
                                   final_real_sides={}))
    return [{k: v for k, v in r.items() if not any(t in k for t in TIMING)} for r in delivered], saved


def test_a_resumed_trial_reports_what_the_uninterrupted_one_did(monkeypatch, tmp_path):
    straight, checkpoints = run(monkeypatch, tmp_path, "straight", None)
    assert [r["step"] for r in straight] == [10, 20, 30] and len(checkpoints) == 3
    resumed, _ = run(monkeypatch, tmp_path, "resumed", checkpoints[0])  # continues from step 10
    assert [r["step"] for r in resumed] == [20, 30]
    for theirs, ours in zip(straight[1:], resumed, strict=True):
        assert ours == pytest.approx(theirs, rel=0, abs=0), (theirs, ours)  # digit for digit


def test_a_trial_reports_what_train_alone_reports(monkeypatch, tmp_path):
    in_sweep, _ = run(monkeypatch, tmp_path, "trial", None)
    alone = []
    train(resolve(split_trial_config(PARAMS)[0]), lambda metrics, state: alone.append(metrics))
    assert [r["step"] for r in alone] == [10, 20, 30]
    for theirs, ours in zip(alone, in_sweep, strict=True):
        assert {k: ours[k] for k in theirs if not any(t in k for t in TIMING)} == {
            k: v for k, v in theirs.items() if not any(t in k for t in TIMING)}
