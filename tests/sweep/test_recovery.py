"""Trials a killed driver started after Tune's last snapshot (orphans): continued in their own run from their
newest checkpoint in --storage, or closed as lost and replaced, and Optuna told either way. No Ray here: the
searchers are saved and restored as Tune does, and the runs and checkpoint folders are real."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch

from ganbench.sweep.recovery import find_orphans, latest_checkpoint, run_identity
from ganbench.sweep.spec import load_sweep
from ganbench.sweep.tuner import META, ConfigQueue, DispatchingSearcher, split_trial_config
from ganbench.tracking.runs import Outcome, TrialRuns
from ganbench.tracking.store import Tracker

STUDY = load_sweep(Path(__file__).resolve().parent / "files" / "tiny.yaml").studies[0]


@pytest.fixture
def runs(tmp_path) -> TrialRuns:
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "ganbench/unit").open()
    tracker.ensure_experiment()
    return TrialRuns(tracker, "unit", tracker.parent_run("unit", {}))


def start(runs: TrialRuns, trial_id: str, handed_out: dict, experiment: Path, checkpoints: int) -> str:
    """What a trial does when Tune starts it: open its run, record its folder, write ``checkpoints`` of them."""
    flat, meta = split_trial_config(handed_out)
    run_id, _ = runs.open(run_identity(trial_id, meta), meta, flat.get("seed"))
    runs.record_attempt(run_id, f"run_trial_{trial_id}")
    for index in range(checkpoints):
        folder = experiment / f"run_trial_{trial_id}" / f"checkpoint_{index:06d}"
        folder.mkdir(parents=True)
        torch.save({"step": 10 * (index + 1)}, folder / "state.pt")
    return run_id


def test_latest_checkpoint_skips_a_cut_off_upload_and_looks_back_through_attempts(tmp_path):
    for trial_dir, names in (("first", ["checkpoint_000000", "checkpoint_000001"]), ("second", ["checkpoint_000000"])):
        for name in names:
            (tmp_path / trial_dir / name).mkdir(parents=True)
            (tmp_path / trial_dir / name / "state.pt").write_bytes(b"x")
    (tmp_path / "second" / "checkpoint_000000" / "state.pt").unlink()  # cut off mid-upload
    assert latest_checkpoint(str(tmp_path), ["first", "second"]) == f"{tmp_path}/first/checkpoint_000001"
    assert latest_checkpoint(str(tmp_path), ["missing"]) is None


def test_search_orphans_continue_from_their_checkpoint_or_are_lost_and_replaced(runs, tmp_path):
    optuna_url, experiment = f"sqlite:///{tmp_path / 'optuna.db'}", tmp_path / "search"
    searcher = DispatchingSearcher(STUDY, optuna_url, "unit", runs, str(experiment))
    handed = {f"t{i}": searcher.suggest(f"t{i}") for i in range(2)}
    searcher.save(str(tmp_path / "snapshot.pkl"))  # Tune's last snapshot: it knows t0 and t1
    handed |= {f"t{i}": searcher.suggest(f"t{i}") for i in range(2, 4)}
    # The tuned hinge orphan (t3) died after its first checkpoint; the non_saturating one (t2) before any.
    run_ids = {tid: start(runs, tid, config, experiment, checkpoints=int(config[META]["value"] == "hinge"))
               for tid, config in handed.items()}
    assert [handed[t][META]["value"] for t in ("t2", "t3")] == ["non_saturating", "hinge"]
    restored = DispatchingSearcher(STUDY, optuna_url, "unit", runs, str(experiment))
    restored.restore(str(tmp_path / "snapshot.pkl"))
    first = restored.suggest("r0")
    flat, meta = split_trial_config(first)
    assert meta["run_trial_id"] == "t3" and meta["value"] == "hinge"  # continues the hinge orphan, in its run
    assert flat == split_trial_config(handed["t3"])[0]  # with the params Optuna gave it
    lost = runs.tracker.client.get_run(run_ids["t2"])
    assert lost.data.tags["outcome"] == Outcome.LOST.value and lost.info.status == "KILLED"
    assert lost.data.tags["failure_reason"].startswith("lost:")
    more = [restored.suggest(f"r{i}") for i in range(1, 3)]  # t2's replacement, then nothing
    assert more[-1] == DispatchingSearcher.FINISHED  # every value at its planned count: 2 + 2
    values = [c[META]["value"] for c in [handed["t0"], handed["t1"], first, *more[:-1]]]
    assert sorted(values) == sorted(["hinge", "non_saturating"] * STUDY.num_samples)
    restored.on_trial_complete("r0", {STUDY.objective: 0.25, "step": STUDY.steps, "reverse_kl": 0.3})
    study = optuna.load_study(study_name="unit/tiny/hinge", storage=optuna_url)
    states = {t.user_attrs["ganbench.trial_id"]: (t.state, t.value) for t in study.get_trials()}
    assert states["t3"] == (optuna.trial.TrialState.COMPLETE, 0.25)  # the orphan's own Optuna trial, told


def test_final_orphans_continue_as_their_value_and_seed(runs, tmp_path):
    experiment = tmp_path / "final"
    flat = split_trial_config(DispatchingSearcher(STUDY, "", "unit").suggest("s"))[0]
    configs = [{**flat, "seed": 1000 + i, META: {"study": STUDY.name, "value": "hinge", "stage": "final"}}
               for i in range(3)]
    queue = ConfigQueue(configs, STUDY, runs, str(experiment))
    handed = {"f0": queue.suggest("f0")}
    queue.save(str(tmp_path / "snapshot.pkl"))
    handed |= {"f1": queue.suggest("f1"), "f2": queue.suggest("f2")}
    start(runs, "f0", handed["f0"], experiment, 1)
    start(runs, "f1", handed["f1"], experiment, 2)
    lost_run = start(runs, "f2", handed["f2"], experiment, 0)
    restored = ConfigQueue(configs, STUDY, runs, str(experiment))
    restored.restore(str(tmp_path / "snapshot.pkl"))
    again = [restored.suggest(f"g{i}") for i in range(3)]
    assert again[-1] == ConfigQueue.FINISHED
    assert [(c["seed"], c[META].get("run_trial_id")) for c in again[:-1]] == [(1001, "f1"), (1002, None)]
    assert runs.outcome(lost_run) is Outcome.LOST
    assert find_orphans(runs, STUDY.name, "final", {"f0", "g0", "g1", "f1"}, str(experiment)) == []
