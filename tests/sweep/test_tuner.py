"""The Tune adapter's pieces that need no running Ray: the thin dispatchers over Ray's ASHA and Optuna's searchers
(per-value brackets, judged on the objective) and the live progress table."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
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
    SchedulerSnapshot,
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


def table_trial(trial_id: str, status: str, step: int, value: str = "hinge", **params) -> SimpleNamespace:
    config = {"loss.name": value, "optim.lr_g": 1e-3, **params, META: {"value": value}}
    return SimpleNamespace(trial_id=trial_id, config=config, status=status,
                           last_result={"step": step, "reverse_kl": 0.7, "best_reverse_kl": 0.3} if step else None)


@pytest.mark.parametrize(("stage", "shown"), [("search", "best_reverse_kl 0.3"), ("final", "reverse_kl 0.7")])
def test_progress_table_shows_what_each_stage_is_judged_on(capsys, stage, shown):
    ProgressTable(STUDY, stage, planned=1).on_step_end(0, [table_trial("t1", "TERMINATED", 30)])
    ended = capsys.readouterr().out.splitlines()[-1].split()
    assert ended[:2] == ["ended", "t1"] and " ".join(ended[5:7]) == shown and ended[-1] == "(completed)"


def test_progress_table_grows_with_running_trials_not_with_the_sweep(capsys):
    """Each update prints a status line and the running trials with their tuned parameters; an ended trial is
    printed once, when it ends."""
    table = ProgressTable(STUDY, "search", planned=40, every_s=0.0)
    ended = [table_trial(f"done{i}", "TERMINATED", 30, ("hinge", "non_saturating")[i % 2]) for i in range(30)]
    running = [table_trial("run1", "RUNNING", 10, **{"optim.lr_d": 2e-4}), table_trial("run2", "RUNNING", 20)]
    table.on_step_end(0, ended + running)
    capsys.readouterr()
    running[0].last_result = {"step": 20, "reverse_kl": 0.6, "best_reverse_kl": 0.3}
    table.on_step_end(1, ended + running)
    update = capsys.readouterr().out.splitlines()
    values = len(STUDY.values())
    assert len(update) == 1 + values + len(running) + 3  # status, values, running, the last three ended
    assert update[0].startswith("[tiny search] 30/40 ended, 2 running, 8 waiting") and "ETA at most" in update[0]
    assert update[1 + values].split()[:2] == ["running", "run1"]
    assert "lr_g=0.001" in update[1 + values] and "lr_d=0.0002" in update[1 + values]
    assert "step     20/30" in update[1 + values]
    assert [line.split()[1] for line in update[-3:]] == ["done27", "done28", "done29"]
    hinge = next(line for line in update if line.split()[0] == "hinge")
    assert " ".join(hinge.split()[1:]) == "15/20 ended, 2 running best so far: best_reverse_kl 0.3"

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


def improving(lr: float, step: int) -> float:
    return abs(math.log10(lr) + 2.5) + 1.0 / step  # best near lr 3e-3, improving with steps


def simulate(study, concurrency: int, reports_first: str, pause_after: int | None = None,
             tmp_path: Path | None = None, curve: Callable[[float, int], float] = improving) -> list[tuple]:
    """Drive the searcher and ASHA as Tune would, with ``concurrency`` slots, letting the running trial that was
    handed out first (or last) report next. Each trial's curve is a fixed function of its config, as training is
    on the CPU. Returns every trial's (value, lr_g, steps it ran), per value in hand-out order.

    ``pause_after`` reports, the sweep is paused and restored as Tune does it: the searcher from its saved state,
    the scheduler from the pickle written when the sweep started (``tuner.pkl``) plus what the callbacks saved,
    and the running trials continue from their last evaluation with Tune's training_iteration restarting at 1."""
    searcher = DispatchingSearcher(study, storage_url="", sweep="unit")
    scheduler = DispatchingScheduler(study, max_steps=study.steps, grace_period=study.eval_every)
    tuner_pkl = pickle.dumps(scheduler)
    running: list[SimpleNamespace] = []
    ran: dict[str, tuple] = {}
    for n in range(1000):
        if n == pause_after:
            searcher.save(str(tmp_path / "searcher.pkl"))
            callback_state = pickle.dumps(SchedulerSnapshot(scheduler).get_state())
            searcher = DispatchingSearcher(study, storage_url="", sweep="unit")
            searcher.restore(str(tmp_path / "searcher.pkl"))
            scheduler = pickle.loads(tuner_pkl)
            SchedulerSnapshot(scheduler).set_state(pickle.loads(callback_state))
            for t in running:
                scheduler.on_trial_add(None, t)
                t.iteration = 0
        while len(running) < concurrency:
            config = searcher.suggest(f"t{n}-{len(running)}")
            if config is None or config == DispatchingSearcher.FINISHED:
                break
            t = SimpleNamespace(trial_id=f"t{n}-{len(running)}", config=config, step=0, iteration=0)
            scheduler.on_trial_add(None, t)
            running.append(t)
        if not running:
            break
        t = running[0] if reports_first == "first" else running[-1]
        t.step += study.eval_every
        t.iteration += 1
        lr = t.config["optim.lr_g"]
        loss = curve(lr, t.step)
        result = {"step": t.step, "training_iteration": t.iteration, "reverse_kl": loss, "best_reverse_kl": loss}
        searcher.on_trial_result(t.trial_id, result)
        action = scheduler.on_trial_result(None, t, result)
        if action == TrialScheduler.STOP or t.step >= study.steps:
            scheduler.on_trial_complete(None, t, result)
            searcher.on_trial_complete(t.trial_id, result)
            running.remove(t)
            ran[t.trial_id] = (t.config[META]["value"], round(lr, 12), t.step)
    return sorted(ran.values(), key=lambda r: r[0])  # stable: each value's trials stay in hand-out order


@pytest.mark.parametrize("deterministic", [True, False])
def test_deterministic_mode_picks_the_same_whichever_trial_reports_first(deterministic):
    """TPE past its start-up and ASHA's cuts both depend on which trials have reported: with two slots per value,
    letting the first or the last running trial report first changes what is suggested and what is cut. The
    deterministic mode runs each value's trials in turn, so the order of reports cannot matter."""
    study = replace(STUDY, num_samples=8, n_startup_trials=2, deterministic=deterministic,
                    shared={**STUDY.shared, "train.steps": 40})
    orders = [simulate(study, concurrency=4, reports_first=first) for first in ("first", "last")]
    assert len(orders[0]) == len(orders[1]) == 16
    if deterministic:
        assert orders[0] == orders[1]
    else:  # the test can fail: asynchronously, the same file gives other picks
        assert orders[0] != orders[1]


def test_deterministic_mode_runs_one_trial_per_value_at_once():
    searcher = DispatchingSearcher(replace(STUDY, deterministic=True), storage_url="", sweep="unit")
    first, second = searcher.suggest("a"), searcher.suggest("b")
    assert {first[META]["value"], second[META]["value"]} == {"non_saturating", "hinge"}
    assert searcher.suggest("c") is None  # both values busy: wait, do not finish
    searcher.on_trial_complete("a", {"step": 30, "reverse_kl": 0.5, "best_reverse_kl": 0.5})
    assert searcher.suggest("c")[META]["value"] == first[META]["value"]


@pytest.mark.parametrize("pause_after", [3, 7, 12, 20, 33])
def test_a_paused_and_restored_sweep_picks_and_cuts_as_an_uninterrupted_one(tmp_path, pause_after):
    """Ctrl-C then --resume must give the uninterrupted sweep's trials. Two things broke that: Tune restores the
    scheduler as it was when the sweep started (every ASHA rung empty, so a trial in flight ran to its end where
    it had been cut), and Optuna keyed the resumed trial's reports by a training_iteration that restarts at 1
    (dropped as repeats, so TPE ranked a pruned trial on an older value)."""
    study = replace(STUDY, num_samples=8, n_startup_trials=2, deterministic=True,
                    shared={**STUDY.shared, "train.steps": 40})
    straight = simulate(study, concurrency=2, reports_first="first")
    paused = simulate(study, concurrency=2, reports_first="first", pause_after=pause_after, tmp_path=tmp_path)
    assert paused == straight


def test_optuna_keeps_a_resumed_trials_reports_by_generator_step():
    """Tune's training_iteration restarts at 1 when a paused trial resumes from its checkpoint; Optuna dropped
    those reports as repeats, and TPE ranks a pruned trial by its last reported step and value."""
    searcher = DispatchingSearcher(STUDY, storage_url="", sweep="unit")
    config = searcher.suggest("a")
    value = config[META]["value"]
    for step, iteration, loss in [(10, 1, 0.9), (20, 2, 0.7), (30, 1, 0.5)]:  # paused after step 20
        searcher.on_trial_result("a", {"step": step, "training_iteration": iteration, "reverse_kl": loss,
                                       "best_reverse_kl": loss})
    optuna_trial = searcher.searchers[value]._ot_trials["a"]
    assert optuna_trial.study.trials[0].intermediate_values == {10: 0.9, 20: 0.7, 30: 0.5}


def test_the_picks_do_not_depend_on_the_sweep_files_key_order(tmp_path):
    """The same sweep written with its tuned keys in another order must get the same configs: samplers draw in the
    order parameters are given, and a file rewritten with sorted keys swapped lr_d and lr_g."""
    text = (Path(__file__).resolve().parent / "files" / "tiny.yaml").read_text()
    block = text[text.index("nuisance:"):text.index("num_samples:")]
    lr_g, lr_d = "  optim.lr_g: {loguniform: [1.0e-4, 1.0e-2]}\n", "  optim.lr_d: {loguniform: [1.0e-4, 1.0e-2]}\n"
    orders, picks = [], []
    for name, nuisance in (("g_first", lr_g + lr_d), ("d_first", lr_d + lr_g)):
        (tmp_path / f"{name}.yaml").write_text(text.replace(block, "nuisance:\n" + nuisance))
        study = load_sweep(tmp_path / f"{name}.yaml").studies[0]
        orders.append(list(study.space(study.values()[0])))
        searcher = DispatchingSearcher(study, storage_url="", sweep="unit")
        picks.append([split_trial_config(searcher.suggest(f"t{i}"))[0] for i in range(2 * study.num_samples)])
    assert orders[0] == orders[1][::-1], "the two files must give the tuned keys in two orders"
    assert picks[0] == picks[1]
