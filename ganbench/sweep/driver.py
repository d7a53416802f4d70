"""``ganbench sweep``: plan, run and resume a sweep file, stage by stage (search, then final seeds).

The driver validates the sweep file before Ray starts, prepares the real-side statistics once, creates
the MLflow experiment and the sweep's parent run, then runs each study's stages through the Ray
adapter (``ganbench.sweep.tuner``). Its state (stage reached, best configs, file hash) lives under
``--storage`` (``ganbench.sweep.state``), so that ``--resume`` continues where a killed driver stopped,
from any machine that reaches the same storage and tracking URI.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from concurrent import futures
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganbench import __version__
from ganbench.config import resolve
from ganbench.errors import ConfigError, DataError, GanbenchError
from ganbench.metrics import METRICS
from ganbench.metrics.evaluator import Evaluator
from ganbench.resources import search_spaces
from ganbench.sweep.cpu_kernels import kernel_env, use_cpu_kernels
from ganbench.sweep.disk_full import disk_full, quiet_disk_full_noise
from ganbench.sweep.interrupts import GUARD, Interrupted
from ganbench.sweep.lock import SweepLock
from ganbench.sweep.ray_cluster import init_ray, start_ray
from ganbench.sweep.results import best_configs, format_summary, summarise
from ganbench.sweep.spec import check_name, load_sweep, rdb_url
from ganbench.sweep.state import SweepState, storage_root
from ganbench.sweep.study import Study, SweepFile, describe
from ganbench.tracking.origin import NUMERIC_ENV, record_origin, sweep_origin
from ganbench.tracking.runs import TrialRuns
from ganbench.tracking.store import Tracker, default_tracking_uri, home, ui_command
from ganbench.tracking.summary import SummaryRuns, ValueSummary
from ganbench.training.loop import train
from ganbench.training.sampling import dataset_of

if TYPE_CHECKING:
    from ganbench.report.data import SweepRecord

FINAL_SEED_BASE = 1000  # final reruns use seeds apart from the search's
# Passed to every trial, also on a cluster's other nodes: the data and weights, and what decides the numbers' digits
# (the reproducibility mode's variables among them), so that the fingerprint the driver records holds for the trials.
ENV_KEYS = ("GANBENCH_HOME", "GANBENCH_CACHE", "GANBENCH_DATA", "GANBENCH_INCEPTION_WEIGHTS", "TORCH_HOME",
            *NUMERIC_ENV)


@dataclass
class SweepOptions:
    file: str
    name: str | None = None
    resume: bool = False
    plan: bool = False
    address: str | None = None
    tracking_uri: str | None = None
    storage: str | None = None
    max_concurrent: int | None = None
    budget: str | None = None      # benchmark files only: small (this machine) or paper
    optuna_storage: str | None = None  # --optuna-storage: every study's Optuna RDB, over the file's searcher.storage
    overrides: tuple[str, ...] = ()    # KEY=VALUE over every study's `fixed` keys


def default_name(sweep: SweepFile) -> str:
    """The file's stem; a benchmark's budget is part of its name (ring8_pacgan-small)."""
    return f"{sweep.path.stem}-{sweep.budget}" if sweep.budget else sweep.path.stem


def missing_inputs(study: Study) -> list[str]:
    """What a study needs that this machine lacks: data files and metric weights, each naming the file and
    where to put it. Cheap: loads nothing."""
    missing: dict[str, str] = {}
    for value in study.values():
        config = resolve(study.midpoint_config(value))
        if not config.data.download:
            try:
                dataset_of(config).check_available()  # names the files and the folder they belong in
            except DataError as error:
                missing.setdefault(f"data:{config.data.name}", str(error))
        for name in config.eval.metrics:
            reason = METRICS.get(name).unavailable_reason()
            if reason:
                missing.setdefault(name, f"{name} metrics cannot be computed here: {reason}")
    return list(missing.values())


def check_runnable(study: Study, resources: dict[str, float] | None) -> None:
    """Refuse what would fail or wait forever: missing data, unavailable metrics, unsatisfiable resources
    (``resources`` of the cluster; None = this machine)."""
    missing = missing_inputs(study)
    if missing:
        raise DataError("; and ".join(missing))  # everything missing at once, in one message
    gpus = (resources or {}).get("GPU", 0.0) if resources is not None else _local_gpus()
    if study.gpu > 0 and gpus <= 0:
        raise ConfigError("resources.gpu", f"{study.gpu} GPU per trial requested, but this cluster has no GPU; "
                                           "set resources.gpu: 0 or join a cluster with GPUs (--address)")
    cpus = (resources or {}).get("CPU", float(os.cpu_count() or 1)) if resources is not None else os.cpu_count() or 1
    if study.cpu > cpus:
        raise ConfigError("resources.cpu", f"{study.cpu} CPUs per trial requested, but the cluster has {cpus:g}")


def _local_gpus() -> int:
    return torch.cuda.device_count()


def plan(sweep: SweepFile, max_concurrent: int | None) -> str:
    """Trials, generator steps, resources and a time estimate, measured on short runs of the first config (with the
    sweep's CPU kernels, which this process already uses)."""
    from ganbench.report.search import search_method  # the report's own words for the search (as below)

    lines = [f"cpu kernels: {sweep.cpu_kernels} ("
             + ("the same digits on any x86 machine with the same torch and MKL: "
                + " ".join(f"{k}={v}" for k, v in kernel_env("portable").items())
                if sweep.cpu_kernels == "portable" else "this CPU's fastest; the digits depend on its instruction set")
             + ")"]
    for study in sweep.studies:
        values = study.values()
        steps = study.steps
        search, final = len(values) * study.num_samples, len(values) * study.seeds
        seconds_per_step, seconds_per_trial = _measure(study)
        slots = max(1, int((os.cpu_count() or 1) // max(study.cpu, 1e-9)))
        if study.gpu:
            slots = min(slots, int(1 / study.gpu) * max(1, _local_gpus()))
        if max_concurrent:
            slots = min(slots, max_concurrent)
        if study.deterministic:  # one trial per value at a time (see DispatchingSearcher)
            slots = min(slots, len(values))
        total_steps = (search + final) * steps
        estimate = (total_steps * seconds_per_step + (search + final) * seconds_per_trial) / slots
        lines += [f"study {study.name}: compare {', '.join(study.label(v) for v in values)}",
                  f"  metric {study.metric} ({study.mode}; trials judged on {study.objective}), "
                  + (f"search {search} trials ({study.num_samples} per value, {search_method(study)}"
                     + f", scheduler {study.scheduler}"
                     + (", deterministic: each value's trials in turn" if study.deterministic else "") + ")"
                     if study.num_samples else "no search (num_samples 0: each value's fixed config)")
                  + f", final {final} reruns ({study.seeds} seeds)",
                  f"  {steps} generator steps per trial, at most {total_steps:,} in all; "
                  f"{study.cpu:g} CPU / {study.gpu:g} GPU per trial, {slots} at once",
                  f"  estimate: at most {estimate / 60:.1f} min ({seconds_per_step * 1000:.1f} ms/step and "
                  f"{seconds_per_trial:.1f} s set-up per trial, measured on the first config; evaluations not included"
                  + ("; ASHA stops many trials early)" if study.scheduler == "asha" and study.num_samples else ")")]
    return "\n".join(lines)


def _measure(study: Study) -> tuple[float, float]:
    """Seconds per generator step and per trial's set-up, from two short runs of the first config (the
    difference cancels the set-up: model building, data loading)."""
    config = {**study.reference_config(),
              "eval.every": 100_000, "eval.metrics": [], "eval.select": "", "train.threads": max(1, int(study.cpu))}
    seconds = {}
    for steps in (5, 10, 60):  # the first run only warms up (imports, allocator, kernels)
        started = time.perf_counter()
        train(resolve({**config, "train.steps": steps}))
        seconds[steps] = time.perf_counter() - started
    per_step = max(seconds[60] - seconds[10], 1e-6) / 50
    return per_step, max(seconds[10] - 10 * per_step, 0.0)


def run(options: SweepOptions) -> int:
    sweep = load_sweep(options.file, options.budget, options.overrides)
    # Before this process computes anything (the plan's timings, the real-side statistics every trial is scored
    # against): torch reads the variables at its first operation. The trials get them through Ray (trial_env).
    use_cpu_kernels(sweep.cpu_kernels, "cpu_kernels")
    name = check_name(options.name or default_name(sweep), "--name" if options.name else "sweep name (the file's stem)")
    storage = storage_root(options.storage)
    store = SweepState(storage, name)
    override = rdb_url(options.optuna_storage, "--optuna-storage")
    for study in sweep.studies:  # before the storage is even read: nothing is started for a sweep that cannot run
        if not (override or study.optuna_storage or store.default_optuna_url()):
            raise ConfigError(f"{study.name}: searcher.storage", f"--storage {storage} is an object store and Optuna "
                                                                 "has none: give an RDB URL (sqlite:////shared/optuna.db "
                                                                 "or postgresql://user@host/db), or --optuna-storage")
    if options.plan:  # a plan reads no storage and starts nothing
        address = options.address or os.environ.get("RAY_ADDRESS")
        resources = init_ray(address, {}) if address else None  # once, not per study
        for study in sweep.studies:
            check_runnable(study, resources)
        print(plan(sweep, options.max_concurrent))
        return 0
    _check_state(store.load(), options, sweep, store)  # refused before the lock: a wrong --resume writes nothing
    resume = resuming_command(options, name)
    GUARD.on_second = f"The sweep's state is as Tune last saved it: resume with `{resume}`"
    with GUARD.installed():
        try:
            with SweepLock(store).held() as lock:
                if lock.took_over is not None:
                    print(f"sweep {name}: took over the lease of a driver that is gone ({lock.took_over.describe()})")
                # Again under the lease: a driver that held it until a moment ago may have created or ended the sweep.
                state = _check_state(store.load(), options, sweep, store)
                return _run_locked(options, sweep, name, store, state, override)
        except Interrupted as stop:
            print(f"interrupted: resume with `{resume}`", file=sys.stderr, flush=True)
            return stop.exit_code
        except Exception as exc:
            if full := disk_full(exc):
                # As after a killed driver: what was written stands, and --resume continues once there is room.
                raise GanbenchError(f"no space left on a disk the sweep writes to ({full}); free some (GANBENCH_HOME "
                                    f"{home()}, --storage {storage}), then resume with `{resume}`") from None
            raise


def _check_state(state: dict[str, Any] | None, options: SweepOptions, sweep: SweepFile,
                 store: SweepState) -> dict[str, Any] | None:
    """Refuse a new sweep over an existing one, a --resume of nothing and a --resume with another file."""
    name = store.name
    if state is not None and not options.resume:
        raise GanbenchError(f"sweep {name!r} exists ({store.where}); add --resume to continue it, "
                            "or pick another --name")
    if options.resume and state is None:
        raise GanbenchError(f"--resume: no sweep named {name!r} under --storage {store.storage} "
                            f"({store.where} is missing)")
    if state is not None and state["sha256"] != sweep.sha256:
        raise GanbenchError(f"--resume: {options.file} (or the ganbench version) changed since sweep {name!r} "
                            "started; resume with the original file, or start a new --name")
    return state


def _run_locked(options: SweepOptions, sweep: SweepFile, name: str, store: SweepState, state: dict[str, Any] | None,
                override: str | None) -> int:
    """The sweep, under its lease: Ray, MLflow, then each study's stages."""
    storage = store.storage
    default_optuna = state["optuna_url"] if state is not None else store.default_optuna_url()
    address = options.address or os.environ.get("RAY_ADDRESS")
    uri = options.tracking_uri or default_tracking_uri()
    # Ray starts on a thread while this one imports the sweep stack and opens the MLflow store (no
    # experiment or run yet, so a refused cluster below leaves nothing behind): ~3 s less before the first trial.
    ray_started = start_ray(address, trial_env(sweep), kernel_env(sweep.cpu_kernels))
    try:
        import ganbench.sweep.tuner  # noqa: F401 - torch and Tune
        tracker = Tracker(uri, f"ganbench/{name}").open()
    except BaseException:
        # Let a half-started Ray finish, so its exit hook shuts it down instead of racing its start.
        futures.wait([ray_started], timeout=60)
        raise
    resources = ray_started.result()
    quiet_disk_full_noise()  # after Ray, MLflow and Optuna have set up their loggers
    GUARD.install()  # Ray's core replaced the SIGTERM handler with one that dumps a native stack and aborts
    for study in sweep.studies:
        check_runnable(study, resources)
    if address and (uri.startswith("sqlite:") or "://" not in storage):
        print("warning: on a multi-node cluster use an MLflow server URI (--tracking-uri) and shared --storage "
              "(NFS path or s3://); a sqlite file and a local folder are only seen by this node", file=sys.stderr)
    tracker.ensure_experiment()
    command = reproducing_command(options, sweep, name)
    parent = tracker.parent_run(name, {"ganbench_version": __version__, "sweep_sha256": sweep.sha256})
    # Each driver start, resumes included: a sweep resumed on another machine records that machine too.
    record_origin(tracker, parent, sweep_origin(sweep.text, str(sweep.path), uri, storage, threads_per_trial(sweep)))
    try:
        if state is None:
            state = {"name": name, "sha256": sweep.sha256, "file": str(sweep.path), "parent_run_id": parent,
                     "studies": {}, "started": time.time(), "optuna_url": default_optuna}
            _describe_parent(tracker, parent, sweep, command)
            store.save(state)
        print(f"sweep {name}: MLflow {uri}; Ray storage {storage}\n  browse: {ui_command(uri, tracker.experiment_id)}")
        summaries = []
        for study in sweep.studies:
            optuna_url = override or study.optuna_storage or state["optuna_url"]
            summaries.append(_run_study(study, name, state, store, tracker, parent, optuna_url, options, resources))
        if all(state["studies"][study.name]["stage"] == "done" for study in sweep.studies):
            log_leaderboard(tracker, name, parent)
    except Interrupted:
        # Paused, not ended: the trials' runs and the sweep's run say so, and --resume reopens them.
        TrialRuns(tracker, name, parent).pause_open()
        tracker.finish(parent, "KILLED")
        raise
    except BaseException:
        with contextlib.suppress(Exception):  # (a full disk cannot record it; the crash itself matters more)
            tracker.finish(parent, "FAILED")  # never left RUNNING by a crash; --resume reopens it
        raise
    tracker.finish(parent, "FINISHED")
    print("\n".join(summaries))
    return 0


def trial_env(sweep: SweepFile) -> dict[str, str]:
    """The variables every trial's process starts with (Ray's runtime environment, on every node, before the trial
    imports torch): ENV_KEYS as the driver has them, and the sweep's CPU kernels over them."""
    return {**{k: os.environ[k] for k in ENV_KEYS if k in os.environ}, **kernel_env(sweep.cpu_kernels)}


def threads_per_trial(sweep: SweepFile) -> dict[str, int]:
    """The torch threads each study's trials train on: their CPUs, as the Tune adapter pins them."""
    return {study.name: max(1, int(study.cpu)) for study in sweep.studies}


def leaderboard_summaries(record: SweepRecord, study: Study) -> list[ValueSummary]:
    """The study's leaderboard rows as the report computes them (``report.leaderboard``, ``report.stats``), one
    per compared value: its keys as params; rank, mean, std, 95% CI bounds, seeds, the difference from the best
    row and its Holm-adjusted p, the best search trial and the trial counts as metrics."""
    from ganbench.report.leaderboard import leaderboard  # scipy: only once a sweep is done
    from ganbench.report.stats import compare_to_best  # (as above)

    metric = study.metric
    rows = leaderboard(record, study)
    ranked = [r for r in rows if r["n"]]
    comparisons = {c.value: c for c in compare_to_best({r["value"]: r["finals"] for r in ranked},
                                                       ranked[0]["value"])} if ranked else {}
    keys = {study.label(value): value for value in study.values()}
    summaries = []
    for r in rows:
        low, high = r["ci"]
        compared = comparisons.get(r["value"])
        rank = 1 + ranked.index(r) if r["n"] else math.nan
        summaries.append(ValueSummary(r["value"], {**keys.get(r["value"], {}), "metric": metric}, {
            "rank": rank, f"{metric}_mean": r["mean"], f"{metric}_std": r["std"], f"{metric}_ci_low": low,
            f"{metric}_ci_high": high, "seeds": r["n"],
            f"{metric}_difference_from_best": compared.difference if compared else (0.0 if rank == 1 else math.nan),
            "holm_p": compared.p_holm if compared else math.nan, f"{metric}_best_search_trial": r["best_single"],
            **{outcome: r[outcome] for outcome in ("completed", "stopped_early", "diverged", "failed")}}))
    return summaries


def log_leaderboard(tracker: Tracker, name: str, parent: str) -> None:
    """Log each study's leaderboard as summary runs under the parent (``tracking.summary``), sortable in MLflow.

    Here, at the end of the sweep's final stage, rather than in ``ganbench report``: the driver holds the sweep's
    lease, so two writers never race to create the same value's run (two ``report`` commands may run at once);
    the runs exist as soon as the numbers do, for a sweep never reported; and a ``--resume`` of a finished sweep
    (``ganbench reproduce`` run again) refreshes them in place. The numbers are the report's, from the same code."""
    from ganbench.report.data import load_sweep_record  # the report's reading of the store (as above)

    record = load_sweep_record(name, tracker.uri)
    runs = SummaryRuns(tracker, name, parent)
    for study in record.studies:
        runs.log(study.name, leaderboard_summaries(record, study))


def resuming_command(options: SweepOptions, name: str) -> str:
    """The command that resumes this sweep: the one typed, with --resume (``reproduce`` resumes by itself)."""
    if sys.argv[1:2] == ["reproduce"]:
        return " ".join(shlex.quote(a) for a in ["ganbench", *sys.argv[1:]])
    if sys.argv[1:2] == ["sweep"]:
        args = sys.argv[2:]
        return " ".join(shlex.quote(a) for a in ["ganbench", "sweep", *args, *([] if "--resume" in args else ["--resume"])])
    flags = {"--name": name, "--storage": options.storage, "--tracking-uri": options.tracking_uri,
             "--address": options.address, "--budget": options.budget, "--optuna-storage": options.optuna_storage,
             "--max-concurrent": options.max_concurrent}
    return " ".join(["ganbench", "sweep", shlex.quote(options.file), *(shlex.quote(o) for o in options.overrides),
                     *(f"{flag} {shlex.quote(str(value))}" for flag, value in flags.items() if value), "--resume"])


def reproducing_command(options: SweepOptions, sweep: SweepFile, name: str) -> str:
    """The command a reader of the report types to rerun this sweep: the one typed (`ganbench sweep ...`,
    `ganbench reproduce ...`), else one naming the file relative to the shipped search spaces, never a path that
    only exists on this machine."""
    if sys.argv[1:2] in (["sweep"], ["reproduce"]):
        return " ".join(shlex.quote(a) for a in ["ganbench", *sys.argv[1:]])
    path = Path(options.file)
    shipped = search_spaces()
    file = f"search_spaces/{path.resolve().relative_to(shipped)}" if path.resolve().is_relative_to(shipped) else path.name
    return " ".join([f"ganbench sweep {file} --name {name}", *(shlex.quote(o) for o in sweep.overrides)]
                    + ([f"--budget {sweep.budget}"] if sweep.budget else []))


def _describe_parent(tracker: Tracker, parent: str, sweep: SweepFile, command: str) -> None:
    # torch.__version__ carries the build (+cu130), which package metadata does not

    # Installed versions from package metadata: importing torch-fidelity or optuna here would only cost start-up.
    tracker.log_params(parent, {"sweep_file": str(sweep.path), "command": command, "ganbench": __version__,
                                "cpu_kernels": sweep.cpu_kernels,
                                "torch": torch.__version__, "ray": version("ray"), "optuna": version("optuna"),
                                "mlflow": version("mlflow"), "torch_fidelity": version("torch-fidelity"),
                                "python": platform.python_version()})
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "sweep.yaml").write_text(sweep.text)
        (Path(folder) / "studies.json").write_text(json.dumps([describe(s) for s in sweep.studies], indent=2))
        tracker.log_artifact(parent, Path(folder) / "sweep.yaml", "search_space")
        tracker.log_artifact(parent, Path(folder) / "studies.json", "search_space")
        if sweep.benchmark:  # the report states the benchmark and its budget from MLflow alone
            (Path(folder) / "benchmark.json").write_text(json.dumps(
                {**sweep.benchmark, "name": sweep.path.stem, "budget": sweep.budget}, indent=2, default=str))
            tracker.log_artifact(parent, Path(folder) / "benchmark.json", "search_space")


def _real_sides(study: Study, split_key: str) -> dict[str, Any]:
    """The real-side statistics of every metric that needs them (``Metric.prepare_real``), computed once per study
    in the driver and handed to every trial (trials never compute or write them)."""
    config = resolve(study.reference_config())
    split = getattr(config.eval, split_key)
    dataset = dataset_of(config)
    sides = {}
    for name in config.eval.metrics:
        real = METRICS.get(name).prepare_real(dataset, config, split)
        if real is not None:
            sides[name] = real
    return sides


def _sentinel(study: Study, real_sides: dict[str, Any]) -> float:
    config = resolve(study.reference_config())
    worst = Evaluator(dataset_of(config), config, torch.device("cpu"), real_sides).worst()
    return worst.get(study.metric, study.judge.direction.worst_sentinel())


def _run_study(study: Study, name: str, state: dict[str, Any], store: SweepState, tracker: Tracker, parent: str,
               optuna_url: str, options: SweepOptions, resources: dict[str, float]) -> str:
    from ganbench.sweep.tuner import META, TrialContext, run_stage  # Tune: imported while Ray starts

    record = state["studies"].setdefault(study.name, {"stage": "search"})
    steps = study.steps
    real_sides = _real_sides(study, "split")
    context = TrialContext(runs=TrialRuns(tracker, name, parent), judge=study.judge,
                           sentinel=_sentinel(study, real_sides), cpus=study.cpu,
                           real_sides=real_sides, final_real_sides=_real_sides(study, "final_split"))
    max_concurrent = options.max_concurrent or study.max_concurrent
    if record["stage"] == "search" and not study.num_samples:  # no search: each value's fixed config is its pick
        record["search"] = {}
        record["best"] = {study.label(value): study.config(value, {}) for value in study.values()}
        record["stage"] = "final"
        store.save(state)
    if record["stage"] == "search":
        rows = run_stage(study, "search", context, store.storage, f"{name}-{study.name}-search", None, optuna_url, name,
                         steps, max_concurrent, options.resume)
        record["search"] = summarise(rows, study)
        record["best"] = best_configs(rows, study)
        record["stage"] = "final" if study.seeds else "done"
        store.save(state)
    if record["stage"] == "final":
        configs = [{**config, "seed": FINAL_SEED_BASE + i, META: {"study": study.name, "value": label, "stage": "final"}}
                   for label, config in record["best"].items() for i in range(study.seeds)]
        rows = run_stage(study, "final", context, store.storage, f"{name}-{study.name}-final", configs, optuna_url, name,
                         steps, max_concurrent, options.resume)
        record["final"] = summarise(rows, study)
        record["stage"] = "done"
        store.save(state)
    return format_summary(study, record)
