"""Tune's snapshots checked before a restore (ganbench.sweep.tuner.snapshots): a session cut short by a full disk
is set aside, so the stage resumes from the newest snapshot that reads whole instead of Tune starting it afresh."""

from __future__ import annotations

import json

import ray.cloudpickle as cloudpickle

from ganbench.sweep.tuner.snapshots import has_snapshot, set_aside_unreadable

OLD, NEW = "2026-12-04_10-00-00", "2026-12-04_11-00-00"


def write_session(folder, session: str) -> None:
    (folder / f"experiment_state-{session}.json").write_text(json.dumps({"trial_data": [], "session": session}))
    (folder / f"search_gen_state-{session}.json").write_bytes(cloudpickle.dumps({"searcher": session}))
    (folder / f"callback-states-{session}.pkl").write_bytes(cloudpickle.dumps({0: {"rungs": session}}))


def cut_short(path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def test_whole_snapshots_are_left_alone(tmp_path):
    write_session(tmp_path, OLD)
    write_session(tmp_path, NEW)
    assert set_aside_unreadable(str(tmp_path)) == []
    assert len(list(tmp_path.iterdir())) == 6


def test_a_session_with_a_file_cut_short_is_set_aside_whole(tmp_path):
    write_session(tmp_path, OLD)
    write_session(tmp_path, NEW)
    cut_short(tmp_path / f"search_gen_state-{NEW}.json")
    assert set_aside_unreadable(str(tmp_path)) == [NEW]
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".unreadable"))
    assert left == sorted(f"{kind}-{OLD}.{ext}" for kind, ext in
                          (("experiment_state", "json"), ("search_gen_state", "json"), ("callback-states", "pkl")))
    assert has_snapshot(str(tmp_path))


def test_with_every_snapshot_cut_short_there_is_nothing_to_restore(tmp_path):
    write_session(tmp_path, NEW)
    cut_short(tmp_path / f"experiment_state-{NEW}.json")
    assert set_aside_unreadable(str(tmp_path)) == [NEW]
    assert not has_snapshot(str(tmp_path))


def test_object_stores_are_left_to_tune():
    assert set_aside_unreadable("s3://bucket/sweeps/x-search") == []
    assert has_snapshot("s3://bucket/sweeps/x-search")
