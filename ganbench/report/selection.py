"""Which generator a report's numbers and pictures come from, as the study's ``eval.select`` decided it.

A run with ``eval.select`` keeps the checkpoint that scored best on that key during training, and the final
evaluation scores it; with ``eval.select: ""`` (PacGAN's protocol) nothing is chosen and the last generator stands.
Every caption that names the scored generator asks here, so none can say "best checkpoint" of a study that selected
none.
"""

from __future__ import annotations

from ganbench.report.data import SweepRecord
from ganbench.sweep.study import Study


def select_key(record: SweepRecord, study: Study) -> str:
    """The study's ``eval.select`` as its runs recorded it ('' when nothing selected a checkpoint)."""
    trials = record.trials_of(study, "final") or record.trials_of(study)
    if trials and "eval.select" in trials[0].params:
        return str(trials[0].params["eval.select"])
    return str(study.shared.get("eval.select", study.fixed.get("eval.select", "")))


def scored_generator(select: str, whose: str = "its") -> str:
    """The generator a final number scores and a sample grid shows, as a phrase (plain text: figure titles use it
    too): ``its best checkpoint by reverse_kl``, or ``its last generator (no checkpoint chosen: eval.select is
    empty)``."""
    if select:
        return f"{whose} best checkpoint by {select}"
    return f"{whose} last generator (no checkpoint chosen: eval.select is empty)"
