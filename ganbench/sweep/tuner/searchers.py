"""What Tune runs next: one Optuna study per compared value behind one searcher (search stage), the fixed
configs of the final stage, and how both recover the trials a killed driver left behind."""

from __future__ import annotations

import pickle
from collections import Counter
from typing import Any

import optuna
import optuna.distributions as od
from optuna.trial import TrialState
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from ganbench.config import flatten
from ganbench.sweep.recovery import (
    NO_CHECKPOINT,
    NO_CONFIG,
    Orphan,
    adopted_meta,
    find_orphans,
)
from ganbench.sweep.study import Distribution, Study
from ganbench.sweep.tuner.trainable import META
from ganbench.tracking.runs import TRIAL_TAG, Outcome, TrialRuns

OPTUNA_STATE = {Outcome.COMPLETED: TrialState.COMPLETE, Outcome.DIVERGED: TrialState.COMPLETE,
                Outcome.STOPPED_EARLY: TrialState.PRUNED, Outcome.FAILED: TrialState.FAIL}


def optuna_space(space: dict[str, Distribution]) -> dict[str, Any]:
    def convert(dist: Distribution) -> Any:
        if dist.kind == "choice":
            return od.CategoricalDistribution(list(dist.args))
        if dist.kind == "int":
            return od.IntDistribution(*dist.args)
        return od.FloatDistribution(*dist.args, log=dist.kind == "loguniform")

    # OptunaSearch names parameters by "/"-joined paths and hands suggestions back unflattened on "/", so
    # "optim/lr_g" returns as {"optim": {"lr_g": ...}}; DispatchingSearcher.suggest flattens that back.
    # Samplers draw in the order the parameters are given: sorted, so a sweep file's key order cannot change the
    # picks (it swapped lr_d and lr_g, and the leaderboard, when the file was rewritten with sorted keys).
    return {key.replace(".", "/"): convert(space[key]) for key in sorted(space)}


def optuna_sampler(name: str, seed: int, n_startup_trials: int = 10) -> Any:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    return {"qmc": optuna.samplers.QMCSampler, "random": optuna.samplers.RandomSampler}[name](seed=seed)


class PickledState:
    """Ray saves searcher and scheduler state with the experiment; ours is plain attributes."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.__dict__, handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.__dict__.update(pickle.load(handle))


class Recovering(PickledState):
    """What both stages' searchers do after a killed driver: on the first suggestion, look for the runs the
    restored state never handed out (``ganbench.sweep.recovery``). An orphan with a checkpoint in --storage (or
    an outcome already recorded) is handed out again, in its own run; one with neither is closed as lost, and
    the slot it took is handed out afresh."""

    def __init__(self, study: Study, stage: str, runs: TrialRuns | None, experiment: str) -> None:
        self.study, self.stage, self.runs, self.experiment = study, stage, runs, experiment
        self.adopted: dict[str, str] = {}  # orphan's trial id -> the Ray trial continuing it
        self.orphans: list[Orphan] | None = None  # to hand out; None until looked for

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        self.orphans = None  # this driver resumes a killed one: look again
        if "runs" not in self.__dict__:  # saved by a ganbench that kept no way back to its runs: no recovery
            self.__dict__.update(orphans=[], adopted={}, handed=[], told_here={}, params={})

    def handed_out(self) -> set[str]:
        raise NotImplementedError

    def recover(self) -> None:
        if self.runs is None:  # not tracked (unit use): nothing to recover
            self.orphans = []
            return
        found = find_orphans(self.runs, self.study.name, self.stage, self.handed_out() | set(self.adopted),
                             self.experiment)
        kept, lost = [], []
        for orphan in found:
            if (orphan.finished or orphan.checkpoint) and self.can_continue(orphan):
                kept.append(orphan)
            else:
                reason = NO_CHECKPOINT if not (orphan.finished or orphan.checkpoint) else NO_CONFIG
                self.runs.close(orphan.run_id, Outcome.LOST, reason=reason)
                self.lost(orphan)
                lost.append(orphan.trial_id)
        self.orphans = kept
        where = f"[{self.study.name} {self.stage}]"
        if kept:
            print(f"{where} continuing {len(kept)} trial(s) a killed driver started after Tune's last snapshot, "
                  f"each in its own run from its newest checkpoint: {', '.join(o.trial_id for o in kept)}")
        if lost:
            print(f"{where} closed {len(lost)} run(s) a killed driver left open with no checkpoint in --storage, "
                  f"as lost (replaced): {', '.join(lost)}")

    def can_continue(self, orphan: Orphan) -> bool:
        return True

    def lost(self, orphan: Orphan) -> None:
        return None


class DispatchingSearcher(Recovering, Searcher):
    """One Optuna study per compared value, ``num_samples`` trials each, handed out round robin.

    With ``study.deterministic`` a value's next trial is handed out only once its previous one has ended. So
    every run of the file shows TPE the same finished trials before each suggestion, and each trial meets
    ASHA's rungs after all earlier trials of its value have recorded theirs: the picks are a function of the
    file and the (bitwise deterministic) training, not of which trial happened to report first. Values still
    run side by side, so up to one trial per value runs at once."""

    def __init__(self, study: Study, storage_url: str, sweep: str, runs: TrialRuns | None = None,
                 experiment: str = "") -> None:
        Searcher.__init__(self, metric=study.objective, mode=study.judge.direction.value)
        Recovering.__init__(self, study, "search", runs, experiment)
        self.values = {study.label(v): v for v in study.values()}
        self.storage_url = storage_url
        self.study_names = {label: f"{sweep}/{study.name}/{label}" for label in self.values}
        storage = optuna.storages.RDBStorage(storage_url) if storage_url else None
        # A value with nothing to tune needs no study: its trials differ only by what the sweep fixes.
        self.searchers = {
            label: OptunaSearch(space=optuna_space(study.space(value)), metric=study.objective, mode=study.mode,
                                sampler=optuna_sampler(study.sampler, study.searcher_seed, study.startup_trials()),
                                storage=storage, study_name=self.study_names[label]) if study.space(value) else None
            for label, value in self.values.items()
        }
        self.suggested: Counter[str] = Counter()
        self.trial_value: dict[str, str] = {}
        self.running: set[str] = set()  # handed out and not yet ended
        self.told_here: dict[str, int] = {}  # adopted Ray trial -> its orphan's Optuna trial, told by number
        self.params: dict[str, dict[str, Any]] = {}  # orphan's trial id -> its Optuna params (dotted keys)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # metric and mode come from the sweep file

    def handed_out(self) -> set[str]:
        return set(self.trial_value)

    def _optuna_trial(self, orphan: Orphan) -> optuna.trial.FrozenTrial | None:
        """The orphan's Optuna trial, found by the Ray trial id ``suggest`` stored on it."""
        study = optuna.load_study(study_name=self.study_names[orphan.value], storage=self.storage_url)
        return next((t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(TRIAL_TAG) == orphan.trial_id),
                    None)

    def can_continue(self, orphan: Orphan) -> bool:
        if orphan.value not in self.values:
            return False
        if self.searchers[orphan.value] is None:
            self.params[orphan.trial_id] = {}
            return True
        trial = self._optuna_trial(orphan)
        if trial is None:  # started by a ganbench that did not tag Optuna trials: its config cannot be rebuilt
            return False
        self.params[orphan.trial_id] = {key.replace("/", "."): value for key, value in trial.params.items()}
        return True

    def lost(self, orphan: Orphan) -> None:
        if orphan.value in self.values and self.searchers[orphan.value] is not None:
            trial = self._optuna_trial(orphan)
            if trial is not None and trial.state is TrialState.RUNNING:
                self._tell(orphan.value, trial.number, None, TrialState.FAIL)

    def _tell(self, label: str, number: int, value: float | None, state: TrialState) -> None:
        study = optuna.load_study(study_name=self.study_names[label], storage=self.storage_url)
        try:
            study.tell(number, value, state=state)
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            pass  # told before the driver was killed

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.orphans is None:
            self.recover()
        if self.orphans:  # in-flight work first: each orphan takes the slot it had
            orphan = self.orphans.pop(0)
            label = orphan.value
            params = self.params.pop(orphan.trial_id)
            if not orphan.finished and self.searchers[label] is not None:
                trial = self._optuna_trial(orphan)
                if trial is not None and trial.state is TrialState.RUNNING:
                    self.told_here[trial_id] = trial.number
            self.adopted[orphan.trial_id] = trial_id
            self.suggested[label] += 1
            self.trial_value[trial_id] = label
            self.running.add(trial_id)
            meta = adopted_meta({"study": self.study.name, "value": label, "stage": "search",
                                 "index": self.suggested[label] - 1}, orphan)
            return {**self.study.config(self.values[label], params), META: meta}
        open_values = [label for label in self.values if self.suggested[label] < self.study.num_samples]
        if not open_values:
            return Searcher.FINISHED
        if self.study.deterministic:
            busy = {self.trial_value[t] for t in self.running}
            open_values = [label for label in open_values if label not in busy]
            if not open_values:
                return None  # Tune asks again once a trial has ended
        label = min(open_values, key=lambda v: self.suggested[v])  # ties keep file order
        searcher = self.searchers[label]
        params = {}
        if searcher is not None:
            params = searcher.suggest(trial_id) or {}
            # So that a killed driver's successor finds this Optuna trial from the trial's MLflow run. Ray's
            # OptunaSearch has no public way from a Ray trial to its Optuna trial; _ot_trials is that map.
            searcher._ot_trials[trial_id].set_user_attr(TRIAL_TAG, trial_id)
        index = self.suggested[label]  # this value's n-th trial: what breaks a tie between two equal trials
        self.suggested[label] += 1
        self.trial_value[trial_id] = label
        self.running.add(trial_id)
        # OptunaSearch hands "/"-joined names back as nested dicts: flatten them to dotted config keys.
        config = self.study.config(self.values[label], flatten(params))
        return {**config, META: {"study": self.study.name, "value": label, "stage": "search", "index": index}}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        searcher = self.searchers.get(self.trial_value.get(trial_id, ""))
        if searcher is not None and self.metric in result and trial_id not in self.told_here \
                and trial_id not in self.adopted.values():
            # Optuna keys intermediate values by Tune's training_iteration, which restarts at 1 when a paused trial
            # resumes from its checkpoint: the resumed reports were dropped as repeats ("step=1 is already
            # reported") and TPE judged a later-pruned trial on an earlier value. The generator step never restarts.
            try:
                searcher.on_trial_result(trial_id, {**result, TRAINING_ITERATION: result["step"]})
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # finished before a killed driver could save Tune's state; --resume replays it

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.running.discard(trial_id)
        label = self.trial_value.get(trial_id, "")
        searcher = self.searchers.get(label)
        if searcher is None:
            return
        # OptunaSearch tells COMPLETE whenever the last result holds the metric, which is every trial here
        # (failed ones report the sentinel), so the state comes from the trial's outcome: failed -> FAIL,
        # stopped by ASHA -> PRUNED (Optuna keeps its last objective as an intermediate value), completed ->
        # COMPLETE, diverged -> COMPLETE at the metric's documented worst value.
        state = OPTUNA_STATE[self.study.judge.outcome(result or {}, error=error or result is None)]
        if trial_id in self.told_here:  # continues an orphan: its Optuna trial is told by number
            value = (result or {}).get(self.metric) if state is TrialState.COMPLETE else None
            self._tell(label, self.told_here.pop(trial_id), value, state)
        elif trial_id in self.adopted.values():
            return  # replays an orphan whose Optuna trial was told before the kill
        elif state is TrialState.COMPLETE:
            searcher.on_trial_complete(trial_id, result, error=False)
        else:  # with no result OptunaSearch tells FAIL for an error, PRUNED otherwise
            searcher.on_trial_complete(trial_id, None, error=state is TrialState.FAIL)


class ConfigQueue(Recovering, Searcher):
    """The final stage's trials: the given configs (each value's best, once per seed), handed out in order,
    in the same shape as search trials (dotted config keys plus ``META``). An orphan continues as the trial
    of its value and seed."""

    def __init__(self, configs: list[dict[str, Any]], study: Study, runs: TrialRuns | None = None,
                 experiment: str = "") -> None:
        Searcher.__init__(self)
        Recovering.__init__(self, study, "final", runs, experiment)
        self.pending = list(configs)
        self.handed: list[str] = []

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def handed_out(self) -> set[str]:
        return set(self.handed)

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.orphans is None:
            self.recover()
        if not self.pending:
            return Searcher.FINISHED
        config = self.pending.pop(0)
        self.handed.append(trial_id)
        meta = config[META]
        orphan = next((o for o in self.orphans if (o.value, o.seed) == (meta["value"], config.get("seed"))), None)
        if orphan is not None:
            self.orphans.remove(orphan)
            self.adopted[orphan.trial_id] = trial_id
            config = {**config, META: adopted_meta(meta, orphan)}
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        return None  # nothing to learn: the configs are fixed


