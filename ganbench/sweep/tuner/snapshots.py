"""Tune's experiment snapshots in --storage, checked before a stage is restored.

Tune writes a snapshot as three files per driver session: the trials (``experiment_state-S.json``, written in
place), the searcher (``search_gen_state-S.json``) and the callbacks (``callback-states-S.pkl``), then copies them
to --storage. A full disk cuts a copy short. ``Tuner.restore`` then fails on it, and Tune starts the stage afresh
beside its own trials (it logs "Failed to restore the run state" and goes on): a final trial that had trained to
its last step was closed as lost. A session whose files cannot be read is set aside, so the stage resumes from the
newest snapshot that can be (the trials started after it are found again from MLflow, as after a killed driver).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import ray.cloudpickle as cloudpickle

from ganbench.sweep.state import is_path

SNAPSHOT = re.compile(r"^(experiment_state|search_gen_state|callback-states)-(?P<session>.+)\.(json|pkl)$")
SET_ASIDE = ".unreadable"


def readable(path: Path) -> bool:
    try:
        data = path.read_bytes()
        if path.name.startswith("experiment_state-"):
            json.loads(data)
        else:
            cloudpickle.loads(data)
    except Exception:  # noqa: BLE001 - any failure to read is what this looks for
        return False
    return True


def set_aside_unreadable(experiment: str) -> list[str]:
    """Set aside (rename) every snapshot file of each newest session with an unreadable file, until the newest
    session reads whole. Returns the sessions set aside. Object stores write whole objects, so only local
    folders are checked."""
    folder = Path(experiment)
    if not is_path(experiment) or not folder.is_dir():
        return []
    sessions: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        match = SNAPSHOT.match(path.name)
        if match:
            sessions.setdefault(match["session"], []).append(path)
    set_aside = []
    for session in sorted(sessions, reverse=True):  # session names are timestamps: newest first
        if all(readable(path) for path in sessions[session]):
            break
        for path in sessions[session]:
            path.rename(path.with_name(path.name + SET_ASIDE))
        set_aside.append(session)
    return set_aside


def has_snapshot(experiment: str) -> bool:
    """Whether Tune can restore this stage: object stores are left to Tune to judge."""
    if not is_path(experiment):
        return True
    return any(Path(experiment).glob("experiment_state-*.json"))
