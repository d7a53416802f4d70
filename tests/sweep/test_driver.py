"""End to end: a CI-sized sweep on a local Ray, tracked in one MLflow store that later tests reuse."""

from __future__ import annotations

import hashlib
import json
import math
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from ganbench.cli.main import main
from ganbench.report.data import load_sweep_record
from ganbench.report.leaderboard import leaderboard
from ganbench.report.stats import compare_to_best
from ganbench.sweep.state import SweepState, storage_root
from ganbench.tracking.origin import read_origins
from ganbench.tracking.record import read
from ganbench.tracking.store import Tracker, default_tracking_uri
from tests.infra import assert_runs_match_plan, assert_steps_strictly_increase

SWEEPS = Path(__file__).resolve().parent / "files"
pytestmark = pytest.mark.slow


def runs_of(experiment: str) -> list:
    client = MlflowClient(default_tracking_uri())
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], max_results=1000) if found else []


def test_store_holds_one_parent_and_one_child_per_trial(ci_sweep):
    runs = runs_of(f"ganbench/{ci_sweep}")
    parents = [r for r in runs if r.data.tags.get("ganbench.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("ganbench.kind") == "trial"]
    assert len(parents) == 1
    assert len(children) == 2 * 2 + 2 * 1  # search trials, then one final seed per loss
    assert len({r.data.tags["ganbench.trial_id"] for r in children}) == len(children)
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children)
    assert all(r.info.status == "FINISHED" for r in runs)
    parent = parents[0]
    assert {"command", "ganbench", "torch", "ray", "optuna", "mlflow"} <= set(parent.data.params)
    client = MlflowClient(default_tracking_uri())
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "search_space")} == {
        "search_space/sweep.yaml", "search_space/studies.json"}


def test_children_carry_params_curves_tags_images_and_checkpoint(ci_sweep):
    client = MlflowClient(default_tracking_uri())
    children = [r for r in runs_of(f"ganbench/{ci_sweep}") if r.data.tags.get("ganbench.kind") == "trial"]
    for run in children:
        tags = run.data.tags
        assert tags["sweep"] == "ci" and tags["study"] == "tiny" and tags["value"] in ("non_saturating", "hinge")
        assert tags["stage"] in ("search", "final") and tags["outcome"] in ("completed", "stopped_early")
        assert tags["device"] == "cpu" and tags["ray_node_id"] and tags["host"]  # where the trial ran
        assert run.data.params["loss.name"] == tags["value"] and "optim.lr_g" in run.data.params
        assert tags["seed"] == run.data.params["seed"]
        for key in run.data.metrics:  # every metric's steps strictly increase: nothing logged twice
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert steps == sorted(set(steps)), key
        assert client.get_metric_history(run.info.run_id, "reverse_kl")[0].step == 10
        assert run.data.params["train.threads"] == "1"  # torch threads match the trial's CPUs
        assert "best_reverse_kl" in run.data.metrics
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert "images" in artifacts
        if tags["outcome"] == "completed":
            assert "final_reverse_kl" in run.data.metrics
            assert 0 < run.data.metrics["tracking_s"] < run.data.metrics["trial_wall_s"]
            assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")] == ["checkpoint/checkpoint.pt"]
    finals = [r for r in children if r.data.tags["stage"] == "final"]
    assert {r.data.tags["seed"] for r in finals} == {"1000"}  # apart from the search's seed (0)
    assert all(math.isfinite(r.data.metrics["final_eval_reverse_kl"]) for r in finals)


def test_evaluate_reproduces_a_final_trials_leaderboard_number(ci_sweep, capsys):
    """`ganbench evaluate` runs the trial's own final evaluation: same protocol, same noise, same numbers."""
    finals = [r for r in runs_of(f"ganbench/{ci_sweep}") if r.data.tags.get("stage") == "final"
              and r.data.tags["outcome"] == "completed"]
    assert finals
    for run in finals:
        capsys.readouterr()
        assert main(["evaluate", "--run-id", run.info.run_id, "--json"]) == 0
        evaluated = json.loads(capsys.readouterr().out)
        logged = {k.removeprefix("final_eval_"): v for k, v in run.data.metrics.items() if k.startswith("final_eval_")}
        assert logged and evaluated["metrics"] == pytest.approx(logged, rel=1e-6)
        assert read(run).final_protocol == evaluated["protocol"]  # the stored protocol, read through the record


def test_name_reuse_without_resume_is_refused(ci_sweep, capsys):
    assert main(["sweep", str(SWEEPS / "tiny.yaml"), "--name", ci_sweep]) == 2
    assert "add --resume" in capsys.readouterr().err


def test_resume_of_a_finished_sweep_reruns_nothing(ci_sweep):
    before = {r.info.run_id for r in runs_of(f"ganbench/{ci_sweep}")}
    assert main(["sweep", str(SWEEPS / "tiny.yaml"), "--name", ci_sweep, "--resume"]) == 0
    assert {r.info.run_id for r in runs_of(f"ganbench/{ci_sweep}")} == before


def summary_runs(sweep: str) -> dict[str, object]:
    return {r.data.tags["value"]: r for r in runs_of(f"ganbench/{sweep}") if r.data.tags.get("ganbench.kind") == "summary"}


def assert_summaries_are_the_reports_rows(sweep: str) -> None:
    """Each compared value's summary run holds its leaderboard row as the report computes it."""
    record = load_sweep_record(sweep, default_tracking_uri())
    [study] = record.studies
    rows = leaderboard(record, study)
    ranked = [r for r in rows if r["n"]]
    holm = {c.value: c.p_holm for c in compare_to_best({r["value"]: r["finals"] for r in ranked}, ranked[0]["value"])}
    found = summary_runs(sweep)
    assert sorted(found) == sorted(r["value"] for r in rows)
    metric = study.metric
    for rank, row in enumerate(rows, start=1):
        run = found[row["value"]]
        assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == record.parent["run_id"]
        assert run.data.params == {"loss.name": row["value"], "metric": metric}
        expected = {"rank": rank, f"{metric}_mean": row["mean"], f"{metric}_std": row["std"],
                    f"{metric}_ci_low": row["ci"][0], f"{metric}_ci_high": row["ci"][1], "seeds": row["n"],
                    "holm_p": holm.get(row["value"], math.nan), "completed": row["completed"]}
        got = {key: run.data.metrics[key] for key in expected}
        assert got == pytest.approx(expected, nan_ok=True), row["value"]


def test_the_leaderboard_is_in_mlflow_as_summary_runs_beside_the_planned_trials(ci_sweep):
    """One summary run per value under the parent, the report's numbers; the trial runs count as planned, and a
    resumed (finished) sweep updates the summary runs in place."""
    planned = Counter({("search", "non_saturating"): 2, ("search", "hinge"): 2, ("final", "non_saturating"): 1,
                       ("final", "hinge"): 1})
    runs = runs_of(f"ganbench/{ci_sweep}")
    assert_runs_match_plan(runs, planned)
    assert_summaries_are_the_reports_rows(ci_sweep)
    before = {v: r.info.run_id for v, r in summary_runs(ci_sweep).items()}
    assert main(["sweep", str(SWEEPS / "tiny.yaml"), "--name", ci_sweep, "--resume"]) == 0
    again = runs_of(f"ganbench/{ci_sweep}")
    assert len(again) == len(runs) and {v: r.info.run_id for v, r in summary_runs(ci_sweep).items()} == before
    assert_runs_match_plan(again, planned)
    assert_steps_strictly_increase(MlflowClient(default_tracking_uri()), again)


def test_the_parent_records_each_driver_start_s_origin(ci_sweep):
    tracker = Tracker(default_tracking_uri(), f"ganbench/{ci_sweep}")
    assert tracker.open_existing()
    [parent] = [r for r in tracker.runs() if tracker.is_parent(r, ci_sweep)]
    origins = read_origins(tracker, parent.info.run_id)
    assert origins, "no origin recorded"
    first = origins[0]
    assert first["sweep_file_sha256"] == hashlib.sha256((SWEEPS / "tiny.yaml").read_bytes()).hexdigest()
    assert first["tracking_uri"] == default_tracking_uri() and first["storage"] == storage_root(None)
    assert first["machine"]["threads_per_trial"] == {"tiny": 1} and first["code_commit"]
    assert parent.data.tags["ganbench.origin.aten_capability"] == origins[-1]["machine"]["aten_capability"]


def test_resume_with_a_changed_file_is_refused(ci_sweep, tmp_path, capsys):
    changed = tmp_path / "tiny.yaml"
    changed.write_text((SWEEPS / "tiny.yaml").read_text().replace("num_samples: 2", "num_samples: 3"))
    assert main(["sweep", str(changed), "--name", ci_sweep, "--resume"]) == 2
    assert "changed since sweep" in capsys.readouterr().err


def test_failing_and_diverging_trials_do_not_take_the_sweep_down(faults_sweep):
    children = {(r.data.params.get("train.batch_size"), r.data.params.get("loss.penalty_weight")): r
                for r in runs_of("ganbench/faults") if r.data.tags.get("ganbench.kind") == "trial"}
    assert len(children) == 4  # one run each: nothing retried
    for (batch, _), run in children.items():
        if batch == "400":
            assert run.info.status == "FAILED" and run.data.tags["outcome"] == "failed"
            assert "exceeds" in run.data.tags["failure_reason"]
    diverged = children[("50", "3e+38")]
    assert diverged.data.tags["outcome"] == "diverged"
    assert diverged.data.metrics["reverse_kl"] == pytest.approx(math.log(8))  # finite worst value
    assert children[("50", "1.0")].data.tags["outcome"] == "completed"


def tune_results(home: Path, experiment: str) -> list[list[dict]]:
    """Every trial's results as Tune saw them (what ASHA and the searcher judged)."""
    import json

    return [[json.loads(line) for line in path.read_text().splitlines()]
            for path in sorted((home / "ray_results" / experiment).glob("*/result.json"))]


@pytest.mark.parametrize(("sweep_fixture", "experiment"), [("ci_sweep", "ci-tiny-search"),
                                                           ("faults_sweep", "faults-faults-search")])
def test_every_search_result_carries_the_objective(request, ganbench_home, sweep_fixture, experiment):
    """ASHA lets a result without its metric pass silently, so a missing objective would disable early stopping:
    evaluations, divergences and failures must all report ``best_reverse_kl``."""
    request.getfixturevalue(sweep_fixture)
    trials = tune_results(ganbench_home, experiment)
    assert trials and all(results for results in trials)
    for results in trials:
        assert all("best_reverse_kl" in r for r in results if "reverse_kl" in r)
        assert all(math.isfinite(r["best_reverse_kl"]) for r in results if "best_reverse_kl" in r)


def test_bad_sweep_file_starts_nothing(ganbench_home, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((SWEEPS / "tiny.yaml").read_text().replace("metric: reverse_kl", "metric: fid"))
    assert main(["sweep", str(bad), "--name", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganbench: error: metric:") and len(err.strip().splitlines()) == 1
    assert SweepState(storage_root(None), "bad").load() is None


def test_unreachable_tracking_server_is_one_line_exit_2(ganbench_home):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ganbench", "sweep", str(SWEEPS / "tiny.yaml"), "--name", "nowhere",
                           "--tracking-uri", f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ganbench:") or "Traceback" in line]
    assert lines == [f"ganbench: error: tracking URI http://127.0.0.1:{port}: no MLflow server answers "
                     "([Errno 111] Connection refused); start one with `mlflow server --host HOST --port PORT`, or "
                     "unset MLFLOW_TRACKING_URI and drop --tracking-uri to use the local store"]
    assert time.perf_counter() - started < 60  # not MLflow's minutes of retries
    assert SweepState(storage_root(None), "nowhere").load() is None


def test_unreachable_ray_address_is_one_line_exit_2(ganbench_home, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["sweep", str(SWEEPS / "tiny.yaml"), "--name", "noray", "--address", f"127.0.0.1:{port}", "--plan"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ganbench: error: --address 127.0.0.1:{port}: nothing answers there (Connection refused); start a head with "
        "`ray start --head --port PORT`, or drop --address (and unset RAY_ADDRESS) for a local Ray"]
    assert SweepState(storage_root(None), "noray").load() is None


def test_plan_prints_budget_and_refuses_missing_gpus(ganbench_home, tmp_path, capsys):
    assert main(["sweep", str(SWEEPS / "tiny.yaml"), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "search 4 trials" in out and "final 2 reruns" in out and "estimate" in out
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text((SWEEPS / "tiny.yaml").read_text().replace("resources: {cpu: 1}", "resources: {cpu: 1, gpu: 0.25}"))
    assert main(["sweep", str(gpu), "--plan"]) == 2
    assert "resources.gpu: 0.25 GPU per trial requested, but this cluster has no GPU" in capsys.readouterr().err


def test_optuna_is_told_how_each_trial_ended(ray_local, ganbench_home):
    """Failed trials are FAIL, ASHA-stopped ones PRUNED, diverged ones COMPLETE at the documented worst value."""
    import optuna

    assert main(["sweep", str(SWEEPS / "optuna_states.yaml"), "--name", "states"]) == 0
    storage = f"sqlite:///{ganbench_home / 'ray_results' / 'ganbench-sweeps' / 'states.optuna.db'}"
    study = optuna.load_study(study_name="states/states/non_saturating", storage=storage)
    runs = {r.data.params["optim.lr_g"]: r for r in runs_of("ganbench/states") if r.data.tags.get("stage") == "search"}
    expected = {"completed": optuna.trial.TrialState.COMPLETE, "diverged": optuna.trial.TrialState.COMPLETE,
                "stopped_early": optuna.trial.TrialState.PRUNED, "failed": optuna.trial.TrialState.FAIL}
    assert len(study.trials) == len(runs) == 10
    seen = set()
    for trial in study.trials:
        run = runs[str(trial.params["optim/lr_g"])]
        outcome = run.data.tags["outcome"]
        seen.add(outcome)
        assert trial.state == expected[outcome], (outcome, trial.state)
        if outcome == "diverged":
            assert trial.value == pytest.approx(math.log(8))  # reverse KL's worst: log of the mode count
    assert {"completed", "failed", "diverged"} <= seen


def test_sweep_state_travels_with_its_storage(ray_local, ganbench_home, tmp_path, monkeypatch, capsys):
    """The state lives under --storage: another GANBENCH_HOME resumes given the same --storage and --tracking-uri,
    a 0.1 state in GANBENCH_HOME is migrated, and a state from a newer ganbench is refused in one line."""
    first_home, storage, uri = tmp_path / "home1", tmp_path / "home1" / "ray_results", f"sqlite:///{tmp_path}/ml.db"
    monkeypatch.setenv("GANBENCH_HOME", str(first_home))
    sweep = ["sweep", str(SWEEPS / "tiny.yaml"), "--name", "moved", "--tracking-uri", uri]
    assert main(sweep) == 0
    state_file = storage / "ganbench-sweeps" / "moved.json"
    assert state_file.is_file() and (storage / "ganbench-sweeps" / "moved.optuna.db").is_file()
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("ganbench/moved").experiment_id
    runs = {r.info.run_id for r in client.search_runs([experiment])}

    # Another machine (here: another GANBENCH_HOME) with the same storage and tracking URI.
    monkeypatch.setenv("GANBENCH_HOME", str(tmp_path / "home2"))
    assert main([*sweep, "--storage", str(storage), "--resume"]) == 0
    assert {r.info.run_id for r in client.search_runs([experiment])} == runs
    # The name guard reads that storage's state, not a file on this machine.
    legacy = tmp_path / "home2" / "sweeps" / "moved.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(state_file.read_text())
    assert SweepState(str(tmp_path / "fresh"), "moved").load() is None

    # A state written by ganbench 0.1 (in GANBENCH_HOME, no format) is moved under the default storage.
    monkeypatch.setenv("GANBENCH_HOME", str(first_home))
    old = {k: v for k, v in json.loads(state_file.read_text()).items() if k not in ("format", "storage", "optuna_url")}
    (first_home / "sweeps").mkdir()
    (first_home / "sweeps" / "moved.json").write_text(json.dumps(old))
    state_file.unlink()
    assert main([*sweep, "--resume"]) == 0
    assert json.loads(state_file.read_text())["format"] == 2 and not (first_home / "sweeps" / "moved.json").exists()
    assert {r.info.run_id for r in client.search_runs([experiment])} == runs

    # A state from a newer ganbench: one line naming its version, exit 2.
    state_file.write_text(json.dumps({**json.loads(state_file.read_text()), "format": 9, "ganbench_version": "9.0"}))
    capsys.readouterr()
    assert main([*sweep, "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "written by ganbench 9.0 (state format 9)" in err and "\n" not in err


def picks(name: str) -> tuple[list, dict, list]:
    """What a sweep chose: every search trial (value, params, steps run) in start order, each value's best
    config, and the final reruns' numbers."""
    runs = sorted(runs_of(f"ganbench/{name}"), key=lambda r: (r.info.start_time, r.data.tags.get("value", "")))
    search = sorted((r.data.tags["value"], r.data.params["optim.lr_g"], r.data.params["optim.lr_d"],
                      r.data.tags["outcome"]) for r in runs if r.data.tags.get("stage") == "search")
    best = SweepState(storage_root(None), name).load()["studies"]["ordered"]["best"]
    finals = sorted((r.data.tags["value"], r.data.metrics["final_eval_reverse_kl"]) for r in runs
                    if r.data.tags.get("stage") == "final")
    return search, best, finals


def test_a_deterministic_sweep_picks_the_same_whatever_order_trials_end_in(ray_local, ganbench_home):
    """Run twice from clean stores, with 2 slots and then 1: the second run ends its trials in another order
    (values no longer overlap). With `deterministic: true` the searcher hands out each value's trials in turn, so
    TPE and ASHA see the same history and the picks and the leaderboard's numbers are equal. Asynchronously
    (deterministic: false) this test fails: measured when the mode was written, the second trial of a value was
    suggested before its first had ended in one run and after it in the other."""
    assert main(["sweep", str(SWEEPS / "ordered.yaml"), "--name", "ordered-a"]) == 0
    assert main(["sweep", str(SWEEPS / "ordered.yaml"), "--name", "ordered-b", "--max-concurrent", "1"]) == 0
    first, second = picks("ordered-a"), picks("ordered-b")
    assert len(first[0]) == 6 and len(first[2]) == 2
    assert first == second


def test_a_study_without_search_runs_only_the_final_seeds(ray_local, ganbench_home, tmp_path, capsys):
    """num_samples 0 (picks fixed by the file): no search trial, each value's fixed config over its seeds, a report."""
    from ganbench.report.build import build_report

    tree = yaml.safe_load((SWEEPS / "tiny.yaml").read_text())
    tree.update(num_samples=0, nuisance={}, seeds=2)
    tree["fixed"]["optim.lr_g"] = 2e-3
    path = tmp_path / "fixed.yaml"
    path.write_text(yaml.safe_dump(tree))
    assert main(["sweep", str(path), "--name", "fixed", "--plan"]) == 0
    assert "no search (num_samples 0" in capsys.readouterr().out
    assert main(["sweep", str(path), "--name", "fixed"]) == 0
    out = capsys.readouterr().out
    assert "(no search)" in out and "(n=2)" in out
    runs = [r for r in runs_of("ganbench/fixed") if r.data.tags.get("stage")]
    assert sorted((r.data.tags["stage"], r.data.tags["value"]) for r in runs) == \
        [("final", "hinge")] * 2 + [("final", "non_saturating")] * 2
    assert {r.data.params["optim.lr_g"] for r in runs} == {"0.002"}
    assert main(["sweep", str(path), "--name", "fixed", "--resume"]) == 0  # finished: nothing reruns
    assert len([r for r in runs_of("ganbench/fixed") if r.data.tags.get("stage")]) == 4
    assert_summaries_are_the_reports_rows("fixed")  # 2 seeds a value: CI bounds and a Holm p to compare
    assert not math.isnan(next(r for r in summary_runs("fixed").values() if r.data.metrics["rank"] == 2)
                          .data.metrics["holm_p"])
    report = (build_report("fixed", default_tracking_uri(), tmp_path / "report").folder / "README.md").read_text()
    assert "no search (each value's config is fixed by the file), 2 seeds × 30 steps" in report
    assert "best so far" not in report and "metric vs parameters" not in report  # nothing searched, nothing plotted
    trend = report.split("### Our published metrics against generator steps")[1].split("###")[0]
    assert "| step 10 | step 20 | step 30 |" in trend and "| hinge | reverse_kl | " in trend
    assert "(n=2)" in trend
