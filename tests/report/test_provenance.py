"""A report's provenance section: what it was built from, with no path of the machine that built it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ganbench.report.data import SweepRecord
from ganbench.report.provenance import portable_location, provenance
from ganbench.tracking import origin
from ganbench.tracking.store import Tracker

MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|home|root|Users|mnt|opt|var)/")  # as tests/test_repo.py


@pytest.fixture
def sweep(tmp_path, monkeypatch) -> SweepRecord:
    """A parent run as the driver leaves it: its tags and params, and (tests add them) its origins."""
    monkeypatch.setenv("GANBENCH_HOME", str(tmp_path / "home"))
    tracker = Tracker(f"sqlite:///{tmp_path / 'home' / 'mlflow' / 'mlflow.db'}", "ganbench/unit")
    tracker.ensure_experiment()
    parent = tracker.parent_run("unit", {"sweep_sha256": "f" * 64})
    tracker.log_params(parent, {"ganbench": "0.1.0", "sweep_file": str(tmp_path / "unit.yaml")})
    (tmp_path / "sweep.yaml").write_text("study: unit\n")
    tracker.log_artifact(parent, tmp_path / "sweep.yaml", "search_space")
    return SweepRecord("unit", tracker, {"run_id": parent, "params": tracker.client.get_run(parent).data.params}, [])


def start(record: SweepRecord, checkout: Path, cpu: str = "", mode: bool = False) -> dict:
    found = origin.sweep_origin("study: unit\n", str(checkout / "search_spaces" / "unit.yaml"), record.tracker.uri,
                                str(checkout / "runs" / "ray"), {"unit": 1})
    found["machine"].update(cpu_model=cpu or found["machine"]["cpu_model"], reproducible_mode=mode)
    origin.record_origin(record.tracker, record.parent["run_id"], found)
    return found


def test_the_section_names_file_hash_commit_stores_and_machine(sweep, tmp_path):
    recorded = start(sweep, tmp_path)
    built = provenance(sweep, sweep.tracker.uri, cwd=tmp_path)
    text = "\n".join(built.lines)
    assert built.lines[0] == "## Provenance"
    assert recorded["sweep_file_sha256"] in text and "`search_spaces/unit.yaml`" in text and "f" * 64 in text
    commit = recorded["code_commit"]
    assert (commit == "unknown" and "unknown (not run from a git checkout)" in text) or commit[:40] in text
    assert "MLflow `sqlite:///$GANBENCH_HOME/mlflow/mlflow.db`" in text and "`runs/ray` (`--storage`)" in text
    machine = recorded["machine"]
    assert machine["cpu_model"] in text and f"ATen kernels in use: {machine['aten_capability']}" in text
    assert machine["torch"] in text and "1 thread(s) per trial" in text and "reproducibility mode **off**" in text
    assert not MACHINE_PATH.search(text) and not MACHINE_PATH.search(str(built.data))
    assert built.data["machine"] == machine and built.data["storage"] == "runs/ray"
    assert built.data["sweep_file_sha256"] == recorded["sweep_file_sha256"]


def test_a_sweep_resumed_on_another_machine_says_so(sweep, tmp_path):
    start(sweep, tmp_path, cpu="Old Xeon")
    start(sweep, tmp_path, cpu="Old Xeon")
    start(sweep, tmp_path, cpu="New EPYC", mode=True)
    text = "\n".join(provenance(sweep, sweep.tracker.uri, cwd=tmp_path).lines)
    assert "New EPYC" in text and "reproducibility mode **on**" in text
    assert "**Resumed on another machine**: the driver started 3 times; before this machine on Old Xeon" in text
    assert text.count("Old Xeon") == 1


def test_a_sweep_from_before_origins_says_what_is_not_recorded(sweep, tmp_path):
    built = provenance(sweep, sweep.tracker.uri, cwd=tmp_path)
    text = "\n".join(built.lines)
    assert "not recorded" in text and built.data["code_commit"] == "unknown"
    # The hash of the sweep file as the parent run holds it.
    assert built.data["sweep_file_sha256"] == origin.sweep_origin("study: unit\n", "", "", "", {})["sweep_file_sha256"]


@pytest.mark.parametrize(("location", "portable"), [
    ("sqlite:////h/ome/mlflow/mlflow.db", "sqlite:///$GANBENCH_HOME/mlflow/mlflow.db"),
    ("/repo/runs/medium/ray", "runs/medium/ray"),
    ("sqlite:////repo/runs/medium/mlflow.db", "sqlite:///runs/medium/mlflow.db"),
    ("/elsewhere/ray", "<ray>"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("s3://bucket/ganbench", "s3://bucket/ganbench"),
])
def test_locations_hold_no_machine_path(location, portable):
    assert portable_location(location, "/h/ome", Path("/repo")) == portable
