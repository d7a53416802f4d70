"""Reports built from the MLflow store that the sweep tests filled (a real small sweep, not a mock)."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ganbench.cli.main import main
from ganbench.report.build import portable_command, readable_protocol, search_series
from ganbench.report.data import load_sweep_record
from ganbench.report.leaderboard import baseline_lines, leaderboard, value_names
from ganbench.sweep.study import Study
from ganbench.tracking.store import default_tracking_uri

pytestmark = pytest.mark.slow
FILES = ("README.md", "index.html", "results.csv", "provenance.json", "tiny_best_so_far.png", "tiny_final.png",
         "tiny_params.png", "tiny_curves.png", "tiny_samples.png")


@pytest.fixture(scope="module")
def ci_report(ci_sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["report", ci_sweep, "--out", str(out)]) == 0
    return out


def test_every_file_exists(ci_report):
    for name in FILES:
        assert (ci_report / name).is_file() and (ci_report / name).stat().st_size > 0, name


def test_leaderboard_ranks_as_the_stored_metrics_dictate(ci_sweep, ci_report):
    record = load_sweep_record(ci_sweep, default_tracking_uri())
    finals = {}
    for trial in record.trials:
        if trial.stage == "final":
            finals.setdefault(trial.value, []).append(trial.metrics["final_eval_reverse_kl"])
    means = {value: sum(v) / len(v) for value, v in finals.items()}
    table = [line for line in (ci_report / "README.md").read_text().splitlines() if re.match(r"\| \d+ \| \w", line)]
    ranked = [(line.split("|")[2].strip(), float(line.split("|")[3].split("±")[0])) for line in table]
    assert {value for value, _ in ranked} == set(means)
    for value, shown in ranked:  # each row shows its stored mean ...
        assert shown == pytest.approx(means[value], rel=1e-3)
    shown_means = [m for _, m in ranked]
    assert shown_means == sorted(shown_means)  # ... and rows rank by it (reverse_kl: lower is better)


def test_search_column_shows_what_the_search_judged_trials_on(ci_sweep):
    record = load_sweep_record(ci_sweep, default_tracking_uri())
    study = record.studies[0]
    assert study.rank_on == "best"
    for row in leaderboard(record, study):
        judged = [t.metrics["best_reverse_kl"] for t in record.trials if t.value == row["value"]
                  and t.stage == "search" and t.outcome.value in ("completed", "stopped_early")]
        assert row["best_single"] == pytest.approx(min(judged))
    lasts = {t.metrics["final_reverse_kl"] for t in record.trials if t.stage == "search"}
    assert {row["best_single"] for row in leaderboard(record, replace(study, rank_on="last"))} <= lasts


def test_plotted_search_values_are_the_tables_values(ci_sweep):
    """The "best so far" figure plots what the table's search column shows: each trial as the search judged it."""
    record = load_sweep_record(ci_sweep, default_tracking_uri())
    study = record.studies[0]
    series = search_series(record, study, leaderboard(record, study))
    # Read from the store directly: each search trial that delivered, at its steps, judged on its best checkpoint.
    stored = {}
    for t in record.trials:
        if t.stage == "search" and t.outcome.value in ("completed", "stopped_early"):
            stored.setdefault(t.value, []).append((t.metrics["step"], t.metrics["best_reverse_kl"]))
    assert series == stored and all(stored.values())


def test_report_reaches_the_sweeps_parent_run_in_mlflow(ci_sweep, ci_report, capsys):
    from mlflow import MlflowClient

    record = load_sweep_record(ci_sweep, default_tracking_uri())
    client = MlflowClient(default_tracking_uri())
    parent = client.get_run(record.parent["run_id"])
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {f"report/{name}" for name in FILES} <= logged
    note = parent.data.tags["mlflow.note.content"]
    assert note.startswith("# Leaderboard of sweep `ci`") and "| rank |" in note
    experiment = client.get_experiment(record.tracker.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert main(["report", ci_sweep, "--out", str(ci_report)]) == 0
    printed = capsys.readouterr().out
    assert f"#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning" in printed
    assert "mlflow ui --backend-store-uri sqlite:///" in printed


def described(**keys) -> Study:
    """A study as the report rebuilds it from a parent run's studies.json."""
    return Study.described({"name": "s", "metric": "fid", "mode": "min", **keys})


def test_labels_name_their_keys():
    study = described(scientific={"loss.name": ["hinge"], "model.pack": [1, 2]}, values=["hinge,1", "hinge,2"])
    assert value_names(study) == {"hinge,1": "loss.name=hinge, model.pack=1", "hinge,2": "loss.name=hinge, model.pack=2"}
    variants = described(scientific={"loss.name": ["hinge", "wasserstein"], "loss.penalty": ["gradient_penalty"]},
                         variants=[{"loss.name": "hinge"},
                                   {"loss.name": "wasserstein", "loss.penalty": "gradient_penalty"}],
                         values=["hinge", "wasserstein,gradient_penalty"])
    assert value_names(variants)["wasserstein,gradient_penalty"] == "loss.name=wasserstein, loss.penalty=gradient_penalty"
    assert value_names(described(scientific={"loss.name": ["hinge"]}, values=["hinge"])) == {"hinge": "hinge"}


def test_protocol_and_command_read_as_prose_without_machine_paths(tmp_path, monkeypatch):
    for stored in ("{'modes2d': {'n_fake': 2500, 'high_quality_stds': 3.0, 'dataset': 'ring8'}}",  # older stores
                   '{"modes2d": {"n_fake": 2500, "high_quality_stds": 3.0, "dataset": "ring8"}}'):
        text = readable_protocol(stored)
        assert text == "`modes2d`: n fake 2500, high quality stds 3.0, dataset ring8" and "{" not in text
    monkeypatch.chdir(tmp_path)
    command = portable_command(f"ganbench sweep {tmp_path}/sweeps/a.yaml --storage /mnt/nfs/x "
                               "--name b /opt/repo/search_spaces/benchmarks/ring8_pacgan.yaml")
    assert command == "ganbench sweep sweeps/a.yaml --storage <x> --name b search_spaces/benchmarks/ring8_pacgan.yaml"
    uris = portable_command(f"ganbench reproduce r --tracking-uri sqlite:///{tmp_path}/runs/mlflow.db "
                            "--storage=file:///srv/ray --out=/srv/out/r-medium")
    assert uris == "ganbench reproduce r --tracking-uri sqlite:///runs/mlflow.db --storage=file://<ray> --out=<r-medium>"
    # A benchmark run to a scratch folder, its report then written into the repository: the printed command writes
    # where the report is (it printed `--out <out-r>`, a folder no reader has).
    for given, printed in (("--out /tmp/scratch/out-r", "--out reports/r-small"),
                           ("--out=/tmp/scratch/out-r", "--out=reports/r-small")):
        moved = portable_command(f"ganbench reproduce r --budget small {given}", tmp_path / "reports" / "r-small")
        assert moved == f"ganbench reproduce r --budget small {printed}"


def test_protocol_header_holds_the_real_values(ci_report):
    text = (ci_report / "README.md").read_text()
    assert "**Data**: `ring8`" in text and "with 500 generated samples" in text and "on `test`" in text
    assert "`mlp` (G width 32, D width 16" in text and "30 generator steps per trial" in text
    assert ("2 search trials × 30 steps (random search (TPE's start-up): 2 trial(s) per value, all within TPE's 3 "
            "random start-up trials, so TPE never modelled anything; scheduler asha), then 1 final seeds") in text
    assert "**Reproduce**: `ganbench sweep" in text and "torch 2." in text
    assert "Too few seeds to rank" in text  # one seed per value cannot separate rows
    assert "Trial counts cover both stages" in text


def test_html_parses_and_references_only_existing_files(ci_report):
    class Collector(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.refs: list[str] = []
            self.tables = 0

        def handle_starttag(self, tag, attrs):
            self.tables += tag == "table"
            self.refs += [v for k, v in attrs if k in ("src", "href") and v]

    parser = Collector()
    parser.feed((ci_report / "index.html").read_text())
    parser.close()
    assert parser.tables >= 2 and len(parser.refs) == 5
    for ref in parser.refs:
        assert ref.startswith("data:image/png;base64,") or (ci_report / ref).exists(), ref[:60]


def test_results_csv_has_one_row_per_trial(ci_sweep, ci_report):
    rows = list(csv.DictReader((ci_report / "results.csv").open()))
    assert len(rows) == 6 and {r["stage"] for r in rows} == {"search", "final"}


def test_a_store_with_diverged_and_failed_trials_renders_and_counts_them(faults_sweep, tmp_path):
    assert main(["report", faults_sweep, "--out", str(tmp_path)]) == 0
    record = load_sweep_record(faults_sweep, default_tracking_uri())
    rows = {r["value"]: r for r in leaderboard(record, record.studies[0])}
    assert rows["400,1.0"]["failed"] == 1 and rows["400,3e+38"]["failed"] == 1
    assert rows["50,3e+38"]["diverged"] == 1 and rows["50,1.0"]["completed"] == 1
    assert all(math.isnan(r["mean"]) for r in rows.values())  # no final stage: nothing ranked
    text = Path(tmp_path / "README.md").read_text()
    assert "| 0 | 0 | 1 | 0 |" in text and "| 0 | 0 | 0 | 1 |" in text


def test_sample_and_evaluate_pull_checkpoints_from_mlflow(ci_sweep, tmp_path, capsys):
    import numpy as np

    target = tmp_path / "best.npy"
    assert main(["sample", f"{ci_sweep}:hinge:best", "--n", "6", "--out", str(target)]) == 0
    assert np.load(target).shape == (6, 2)
    run_id = next(t.run_id for t in load_sweep_record(ci_sweep, default_tracking_uri()).trials
                  if t.outcome.value == "completed")
    capsys.readouterr()
    assert main(["evaluate", "--run-id", run_id, "--n", "300", "--json"]) == 0
    assert '"reverse_kl"' in capsys.readouterr().out
    assert main(["sample", f"{ci_sweep}:nope:best", "--n", "6", "--out", str(target)]) == 2


def test_published_numbers_side_by_side_with_verdict_and_protocol_warning(ci_sweep, ci_report):
    text = (ci_report / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| a made-up table"))
    assert "| Their hinge | hinge | reverse_kl | 100 |" in row
    # Any real reverse_kl (at most log 8) beats 100, unless 30 steps left the row not converged: then no verdict.
    record = load_sweep_record(ci_sweep, default_tracking_uri())
    hq = next(t.metrics["final_eval_hq_fraction"] for t in record.trials if t.stage == "final" and t.value == "hinge")
    assert ("| not converged (high-quality fraction" if hq < 0.1 else "| met (better by") in row
    assert "⚠ differs: steps: theirs 400000, ours 30" in row and "n_samples" not in row


def _rows(groups: dict[str, list[float]]) -> list[dict]:
    return [{"value": v, "finals": f, "n": len(f)} for v, f in groups.items()]


def test_baseline_question_is_answered_with_effect_sizes():
    study = described(metric="fid", mode="min", baseline="ns")
    baseline = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1]
    lines = baseline_lines(_rows({"ns": baseline, "good": [x - 3 for x in baseline], "same": [x + 0.01 for x in baseline],
                                  "bad": [x + 4 for x in baseline]}), study)
    table = {line.split(" | ")[0].strip("| "): line for line in lines if line.startswith("| ") and "|---" not in line}
    assert table["good"].endswith("| better |") and table["bad"].endswith("| worse |")
    assert table["same"].endswith("| no detectable difference |")
    assert "| -3 |" in table["good"]
    assert lines[-1].startswith("**Yes**: `good` beat `ns`")
    # Higher-is-better metrics flip the direction; nothing better gives a plain "No".
    study = described(metric="modes", mode="max", baseline="ns")
    lines = baseline_lines(_rows({"ns": baseline, "low": [x - 3 for x in baseline]}), study)
    assert lines[-1] == ("**No**: no value beats `ns` at Holm-corrected α 0.05 with 6 seeds per value; "
                         "`low` is detectably worse.")


def test_baseline_question_without_any_testable_difference_says_so():
    study = described(metric="modes", mode="max", baseline="ns")
    lines = baseline_lines(_rows({"ns": [8.0, 8.0, 8.0], "pack2": [8.0, 8.0, 8.0]}), study)
    assert lines[-1].startswith("**Cannot be tested**")


def test_reporting_a_sweep_that_does_not_exist_creates_nothing(tmp_path):
    """`ganbench report nosuch` on the default store: one line, exit 2, no store and no folder created."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "GANBENCH_HOME": str(tmp_path / "home")}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run([sys.executable, "-m", "ganbench", "report", "nosuch", "--out", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and "no sweep 'nosuch'" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists() and not (tmp_path / "out").exists()


def test_an_unknown_sweep_in_a_store_names_the_sweeps_it_holds(ci_sweep, tmp_path, capsys):
    assert main(["report", "nosuch", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "no sweep 'nosuch'" in error[0] and ci_sweep in error[0].split("available:")[1]
    assert not (tmp_path / "out").exists()


def test_a_mistyped_sweep_name_gets_a_did_you_mean(ci_sweep, tmp_path, capsys):
    assert main(["report", ci_sweep + "x", "--out", str(tmp_path / "out")]) == 2
    assert f"did you mean '{ci_sweep}'?" in capsys.readouterr().err
