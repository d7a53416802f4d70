"""The Tune adapter's pieces that need no running Ray: the thin dispatchers over Ray's ASHA and Optuna's searchers
(per-value brackets, judged on the objective) and the live progress table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from ray.tune.schedulers import TrialScheduler

from ganbench.config import FIELDS
from ganbench.sweep.spec import load_sweep
from ganbench.sweep.tuner import (
    META,
    ConfigQueue,
    DispatchingScheduler,
    DispatchingSearcher,
    ProgressTable,
    split_trial_config,
)

STUDY = load_sweep(Path(__file__).resolve().parent / "files" / "tiny.yaml").studies[0]


def trial(trial_id: str, value: str) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, config={META: {"value": value}})


def cut_at_first_rung(rank_on: str, value_of_second: str = "hinge") -> str:
    """Two trials reach ASHA's first rung (10 steps, reduction factor 2); the second ends on a collapse (last
    evaluation 2.0) after keeping a better checkpoint (0.3) than the first ever had (0.5)."""
    scheduler = DispatchingScheduler(replace(STUDY, rank_on=rank_on), max_steps=30, grace_period=10)
    first, second = trial("a", "hinge"), trial("b", value_of_second)
    for t in (first, second):
        scheduler.on_trial_add(None, t)
    scheduler.on_trial_result(None, first, {"step": 10, "reverse_kl": 0.5, "best_reverse_kl": 0.5})
    return scheduler.on_trial_result(None, second, {"step": 10, "reverse_kl": 2.0, "best_reverse_kl": 0.3})


@pytest.mark.parametrize(("rank_on", "action"), [("best", TrialScheduler.CONTINUE), ("last", TrialScheduler.STOP)])
def test_asha_cuts_on_the_study_objective(rank_on, action):
    assert cut_at_first_rung(rank_on) == action


def test_a_value_is_never_cut_against_another_values_results():
    assert cut_at_first_rung("last", value_of_second="non_saturating") == TrialScheduler.CONTINUE


def test_each_value_gets_num_samples_trials_and_its_own_optuna_study():
    searcher = DispatchingSearcher(STUDY, storage_url="", sweep="unit")
    configs = [split_trial_config(searcher.suggest(f"t{i}"))[0] for i in range(2 * STUDY.num_samples)]
    assert searcher.suggest("extra") == DispatchingSearcher.FINISHED
    assert [c["loss.name"] for c in configs] == ["non_saturating", "hinge"] * STUDY.num_samples
    assert all("optim.lr_d" in c for c in configs if c["loss.name"] == "hinge")
    assert not any("optim.lr_d" in c for c in configs if c["loss.name"] == "non_saturating")
    assert searcher.metric == "best_reverse_kl"
    assert {s.metric for s in searcher.searchers.values()} == {"best_reverse_kl"}


@pytest.mark.parametrize(("stage", "shown"), [("search", "best_reverse_kl 0.3"), ("final", "reverse_kl 0.7")])
def test_progress_table_shows_what_each_stage_is_judged_on(capsys, stage, shown):
    done = SimpleNamespace(trial_id="t1", config={META: {"value": "hinge"}}, status="TERMINATED",
                           last_result={"step": 30, "reverse_kl": 0.7, "best_reverse_kl": 0.3})
    ProgressTable(STUDY, stage).on_step_end(0, [done])
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[:5] == ["t1", "hinge", "TERMINATED", "step", "30"] and " ".join(row[5:]) == shown


def test_both_stages_hand_out_configs_in_one_shape():
    """Search and final-stage trials carry dotted config keys plus META, nothing nested."""
    searcher = DispatchingSearcher(STUDY, storage_url="", sweep="unit")
    search = searcher.suggest("t0")
    flat, meta = split_trial_config(search)
    final_config = {**flat, "seed": 1000, META: {**meta, "stage": "final"}}
    queue = ConfigQueue([final_config], STUDY)
    final = queue.suggest("t1")
    assert queue.suggest("t2") == ConfigQueue.FINISHED
    for handed_out in (search, final):
        assert set(handed_out) - {META} <= set(FIELDS)
        assert not any(isinstance(v, dict) for k, v in handed_out.items() if k != META)
    assert split_trial_config(final) == (split_trial_config(final_config)[0], final_config[META])


def test_final_stage_configs_of_an_old_store_still_read():
    old = {"trial": {"loss.name": "hinge", "optim": {"lr_g": 1e-3}, META: {"value": "hinge", "stage": "final"}}}
    assert split_trial_config(old) == ({"loss.name": "hinge", "optim.lr_g": 1e-3}, {"value": "hinge", "stage": "final"})


def test_optuna_trials_a_killed_driver_left_running_are_failed(tmp_path):
    import optuna

    from ganbench.sweep.tuner import fail_open_optuna_trials

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s/tiny/hinge", storage=url)
    done = study.ask()
    study.tell(done, 0.5)
    study.ask()  # asked after the last snapshot, then the driver died
    fail_open_optuna_trials(url, ["s/tiny/hinge", "s/tiny/never_created"])
    states = [t.state for t in optuna.load_study(study_name="s/tiny/hinge", storage=url).trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]
