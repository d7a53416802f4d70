"""How a sweep's runs end when something goes wrong, without Ray: the sweep's parent run after a crash, and the
number a final-stage trial delivers when its metric is missing."""

from __future__ import annotations

import sys
import types
from concurrent import futures
from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow import MlflowClient

from ganbench.sweep import driver
from ganbench.sweep.spec import load_sweep
from ganbench.sweep.state import SweepState
from ganbench.sweep.tuner import trainable
from ganbench.sweep.tuner.trainable import META, TrialContext, run_trial
from ganbench.tracking.record import Outcome
from tests.infra import fake_tune_and_ray

TINY = Path(__file__).resolve().parent / "files" / "tiny.yaml"


def test_a_crashing_sweep_never_leaves_its_parent_run_running(tmp_path, monkeypatch):
    """The parent run was opened and finished without try/finally: a study that raised left it RUNNING for good."""
    monkeypatch.setenv("GANBENCH_HOME", str(tmp_path))
    started = futures.Future()
    started.set_result({"CPU": 2.0})
    monkeypatch.setattr(driver, "start_ray", lambda address, env, *kernels: started)
    monkeypatch.setattr(driver, "GUARD", SimpleNamespace(install=lambda: None))  # pytest keeps its signal handlers
    monkeypatch.setattr(driver, "quiet_disk_full_noise", lambda: None)
    monkeypatch.setitem(sys.modules, "ganbench.sweep.tuner", types.ModuleType("ganbench.sweep.tuner"))

    def crash(*args, **kwargs):
        raise RuntimeError("a study crashed")

    monkeypatch.setattr(driver, "_run_study", crash)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    options = driver.SweepOptions(file=str(TINY), tracking_uri=uri, storage=str(tmp_path / "storage"))
    with pytest.raises(RuntimeError, match="a study crashed"):
        driver._run_locked(options, load_sweep(TINY), "crashing", SweepState(str(tmp_path / "storage"), "crashing"),
                           None, None)
    client = MlflowClient(uri)
    [parent] = client.search_runs([client.get_experiment_by_name("ganbench/crashing").experiment_id])
    assert parent.info.status == "FAILED"


def test_a_final_trial_missing_its_metric_delivers_no_number(monkeypatch):
    """The final stage reported ``final_<metric>`` with a 0.0 default: a perfect score for a "min" metric, which the
    stage's summary then ranked (its final evaluation lacked the metric too)."""
    study = load_sweep(TINY).studies[0]
    delivered, closed = [], []

    class Logger:
        closed, run_id, best_state = False, "r", {"step": 30}

        def __init__(self, runs, trial_id, meta):
            pass

        def start(self, config, placement=None, trial_dir=""):
            return []

        def log_evaluation(self, metrics, state, config):
            pass

        def log_final_evaluation(self, final):
            return dict(final.scores)

        def finish(self, result, outcome):
            closed.append(outcome)

        def fail(self, error):
            raise AssertionError(error)

    fake_tune_and_ray(monkeypatch, "t1", "/tmp/t1", lambda result, checkpoint=None: delivered.append(result))
    monkeypatch.setattr(trainable, "TrialLogger", Logger)
    # The run ended without final_reverse_kl, and its final evaluation scored other keys only.
    monkeypatch.setattr(trainable, "train", lambda *args, **kwargs: {"steps": 30, "diverged": 0.0, "protocol": {}})
    monkeypatch.setattr(trainable, "final_evaluation", lambda *args, **kwargs: SimpleNamespace(
        scores={"final_eval_modes": 3.0}, protocol={}))
    value = study.values()[0]
    params = {**study.config(value, {}), META: {"study": study.name, "value": study.label(value), "stage": "final"}}
    run_trial(params, TrialContext(runs=None, judge=study.judge, sentinel=9.0, cpus=1, real_sides={},
                                   final_real_sides={}))
    assert closed == [Outcome.COMPLETED]
    last = delivered[-1]
    assert "reverse_kl" not in last and last["step"] == 30
    assert study.judge.worth(last, "final") is None
