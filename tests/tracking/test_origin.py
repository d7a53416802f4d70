"""What a sweep's numbers came from: the machine fingerprint, the code commit, and their record on the parent run."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
import torch

from ganbench.tracking import origin
from ganbench.tracking.store import Tracker


def test_the_fingerprint_names_what_decides_the_digits(monkeypatch):
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.delenv("MKL_CBWR", raising=False)
    machine = origin.machine_fingerprint({"tiny": 1})
    assert machine["torch"] == torch.__version__
    assert machine["aten_capability"] == torch.backends.cpu.get_cpu_capability()
    assert machine["threads_per_trial"] == {"tiny": 1} and machine["reproducible_mode"] is False
    assert machine["blas"] and machine["cpu_model"]
    # Only the instruction-set extensions, and on x86 at least SSE2.
    assert all(origin.SIMD_FLAG.match(flag) for flag in machine["simd_flags"])
    if machine["machine"] == "x86_64":
        assert "sse2" in machine["simd_flags"]


def test_the_reproducibility_mode_is_both_variables(monkeypatch):
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    monkeypatch.delenv("MKL_CBWR", raising=False)
    assert origin.machine_fingerprint({})["reproducible_mode"] is False
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    machine = origin.machine_fingerprint({})
    assert machine["reproducible_mode"] is True
    assert machine["env"] == {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}


def git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_the_code_commit_says_dirty_or_unknown(tmp_path):
    assert origin.code_commit(tmp_path) == "unknown"  # not a checkout (an installed wheel)
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git(tmp_path, "add", "a.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (tmp_path / "untracked.txt").write_text("not code")
    assert origin.code_commit(tmp_path) == head
    (tmp_path / "a.py").write_text("x = 2\n")
    assert origin.code_commit(tmp_path) == f"{head}-dirty"


@pytest.fixture
def tracker(tmp_path, monkeypatch) -> Tracker:
    monkeypatch.setenv("GANBENCH_HOME", str(tmp_path))
    found = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "ganbench/unit")
    found.ensure_experiment()
    return found


def test_each_driver_start_is_recorded_on_the_parent(tracker, tmp_path):
    parent = tracker.parent_run("unit", {})
    assert origin.read_origins(tracker, parent) == []  # a sweep from before origins
    first = origin.sweep_origin("study: x\n", str(tmp_path / "x.yaml"), tracker.uri, str(tmp_path / "ray"), {"x": 1})
    assert first["sweep_file_sha256"] == hashlib.sha256(b"study: x\n").hexdigest()
    origin.record_origin(tracker, parent, first)
    second = {**first, "machine": {**first["machine"], "cpu_model": "Another CPU"}}
    assert origin.record_origin(tracker, parent, second) == [first, second]
    assert origin.read_origins(tracker, parent) == [first, second]
    tags = tracker.tags(parent)
    assert tags["ganbench.origin.cpu"] == "Another CPU"  # the latest start
    assert tags["ganbench.origin.reproducible_mode"] in ("on", "off")
    assert tags["ganbench.origin.sweep_file_sha256"] == first["sweep_file_sha256"]
