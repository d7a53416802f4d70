"""The trainable's resume: the newest readable checkpoint wins; one that cannot be read is named, not hidden."""

from __future__ import annotations

import torch
from ray import tune

from ganbench.sweep.tuner.trainable import STATE_FILE, newest_state


def checkpoint_at(folder, step: int, truncate: bool = False) -> tune.Checkpoint:
    folder.mkdir(parents=True)
    torch.save({"step": step}, folder / STATE_FILE)
    if truncate:
        data = (folder / STATE_FILE).read_bytes()
        (folder / STATE_FILE).write_bytes(data[: len(data) // 2])
    return tune.Checkpoint(str(folder))


def test_a_truncated_newest_checkpoint_falls_back_to_an_older_one_and_says_so(tmp_path):
    older = checkpoint_at(tmp_path / "a", 100)
    newer = checkpoint_at(tmp_path / "b", 200, truncate=True)
    state, unreadable = newest_state([older, newer, None])
    assert state == {"step": 100}
    assert len(unreadable) == 1 and unreadable[0].startswith(f"{tmp_path / 'b'}/{STATE_FILE}: ")


def test_a_vanished_checkpoint_is_skipped_silently(tmp_path):
    kept = checkpoint_at(tmp_path / "a", 100)
    state, unreadable = newest_state([kept, tune.Checkpoint(str(tmp_path / "gone"))])
    assert state == {"step": 100} and unreadable == []
