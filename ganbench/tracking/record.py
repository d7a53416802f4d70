"""What a trial run holds, and the one codec between it and MLflow's tags.

A trial's run carries who it is (sweep, study, compared value, stage, seed), how it ended (its outcome and,
for a failure, the reason), how its numbers were made (the protocols of its evaluations) and the metrics it
logged. ``TrialRecord`` is that, typed; this module is the only place that names the tags it is stored under
(``trial_tags``, ``outcome_tags``, ``protocol_tags``, ``read``), so the writer and every reader (recovery,
the report) agree by construction.

Protocols are stored as JSON. Stores written before that hold a Python dict's text (``str(dict)``), which
``decode_protocol`` still reads.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# The tags of a trial's run. Their names are the store's format: renaming one orphans every older store.
KIND_TAG = "ganbench.kind"    # a sweep's parent run, a trial run or a leaderboard row (summary)
SWEEP_TAG = "ganbench.sweep"  # the parent run's sweep
TRIAL_TAG = "ganbench.trial_id"
ATTEMPTS_TAG = "ganbench.trial_dirs"  # the Tune trial folder of every attempt, oldest first (JSON list)
PARENT_TAG = "mlflow.parentRunId"
SWEEP = "sweep"
STUDY = "study"
VALUE = "value"
STAGE = "stage"
SEED = "seed"
OUTCOME_TAG = "outcome"
REASON_TAG = "failure_reason"
PROTOCOL = "protocol"              # the protocol of the evaluations during training
FINAL_PROTOCOL = "final_protocol"  # the protocol of the final evaluation (final stage only)
UNREADABLE_TAG = "ganbench.unreadable_checkpoints"  # checkpoints a resumed attempt could not read
FALLBACK_TAG = "ganbench.resumed_from"              # what it continued from instead
TRIAL_KIND = "trial"
SUMMARY_KIND = "summary"  # one compared value's leaderboard row, under the sweep's parent (tracking.summary)
TAG_LIMIT = 5000  # what older MLflow versions accept as a tag value


class Outcome(str, Enum):
    """How a trial ended, as its run's ``outcome`` tag says."""

    RUNNING = "running"
    COMPLETED = "completed"          # trained its full budget
    STOPPED_EARLY = "stopped_early"  # cut by ASHA; its numbers so far stand
    DIVERGED = "diverged"            # a non-finite loss; reported at the metric's finite worst value
    FAILED = "failed"                # a config or code error; has a failure_reason
    LOST = "lost"                    # its driver died and the resumed sweep replaced it; has a failure_reason
    INTERRUPTED = "interrupted"      # paused by Ctrl-C or SIGTERM; `--resume` reopens it and continues it

    @property
    def open(self) -> bool:
        """Whether the trial may still train: running, or paused until the sweep is resumed."""
        return self in (Outcome.RUNNING, Outcome.INTERRUPTED)

    @property
    def delivered(self) -> bool:
        """Whether the trial has numbers worth ranking (diverged and failed trials have sentinels or none)."""
        return self in (Outcome.COMPLETED, Outcome.STOPPED_EARLY)

    @property
    def mlflow_status(self) -> str:
        return {Outcome.RUNNING: "RUNNING", Outcome.FAILED: "FAILED", Outcome.LOST: "KILLED",
                Outcome.INTERRUPTED: "KILLED"}.get(self, "FINISHED")

    @classmethod
    def of(cls, tag: str | None) -> Outcome | None:
        """The outcome a tag names; None for a tag no ganbench wrote."""
        try:
            return cls(tag)
        except ValueError:
            return None


COUNTED = (Outcome.COMPLETED, Outcome.STOPPED_EARLY, Outcome.DIVERGED, Outcome.FAILED)


@dataclass(frozen=True)
class TrialRecord:
    """One trial run as the store holds it."""

    run_id: str
    study: str
    value: str                        # the compared value's label (``hinge``, ``hinge,1``)
    stage: str                        # search or final
    seed: int | None
    outcome: Outcome | None           # None: a tag no ganbench wrote
    trial_id: str = ""
    sweep: str = ""
    failure_reason: str = ""
    protocol: dict[str, Any] = field(default_factory=dict)
    final_protocol: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = ""                  # MLflow's own status (RUNNING, FINISHED, FAILED, KILLED)
    start_time: int | None = None
    end_time: int | None = None
    attempts: tuple[str, ...] = ()    # the Tune trial folder of every attempt, oldest first

    @property
    def outcome_text(self) -> str:
        """The outcome as stored: what a table or a CSV shows."""
        return self.outcome.value if self.outcome is not None else "unknown"


def encode_protocol(protocol: Mapping[str, Any]) -> str:
    return json.dumps(protocol, default=str)[:TAG_LIMIT]


def decode_protocol(text: str) -> dict[str, Any]:
    """A stored protocol: JSON, or a Python dict's text (stores written before protocols were JSON); {} for
    none or for text that is neither (an old protocol cut at the tag limit)."""
    if not text:
        return {}
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        return value if isinstance(value, dict) else {}
    return {}


def trial_tags(sweep: str, parent_run_id: str, trial_id: str, meta: Mapping[str, Any],
               seed: int | None = None) -> dict[str, str]:
    """The tags a trial's run is created with (``meta``: study, value and stage)."""
    tags = {TRIAL_TAG: trial_id, KIND_TAG: TRIAL_KIND, PARENT_TAG: parent_run_id, SWEEP: sweep,
            STUDY: meta["study"], VALUE: meta["value"], STAGE: meta["stage"], OUTCOME_TAG: Outcome.RUNNING.value}
    if seed is not None:
        tags[SEED] = str(seed)
    return tags


def outcome_tags(outcome: Outcome, reason: str = "") -> dict[str, str]:
    tags = {OUTCOME_TAG: outcome.value}
    if reason:
        tags[REASON_TAG] = reason[:4000]
    return tags


def protocol_tags(protocol: Mapping[str, Any] | None = None, final: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The tags of a run's protocols: during training, and of its final evaluation."""
    tags = {}
    if protocol is not None:
        tags[PROTOCOL] = encode_protocol(protocol)
    if final is not None:
        tags[FINAL_PROTOCOL] = encode_protocol(final)
    return tags


def attempts_tag(attempts: list[str]) -> dict[str, str]:
    return {ATTEMPTS_TAG: json.dumps(attempts)}


def unreadable_tags(unreadable: list[str], fallback: str) -> dict[str, str]:
    return {UNREADABLE_TAG: "; ".join(unreadable)[:4000], FALLBACK_TAG: fallback}


def is_trial(run: Any) -> bool:
    return run.data.tags.get(KIND_TAG) == TRIAL_KIND


def is_summary(run: Any, sweep: str | None = None) -> bool:
    """Whether ``run`` is a summary run (of ``sweep``, if given)."""
    tags = run.data.tags
    return tags.get(KIND_TAG) == SUMMARY_KIND and sweep in (None, tags.get(SWEEP))


def summary_key(sweep: str, study: str, value: str) -> dict[str, str]:
    """The tags that name one compared value's summary run: what finds it again."""
    return {KIND_TAG: SUMMARY_KIND, SWEEP: sweep, STUDY: study, VALUE: value}


def summary_tags(sweep: str, parent_run_id: str, study: str, value: str) -> dict[str, str]:
    """The tags a summary run is created with: its key, nested under the sweep's parent. No stage and no outcome,
    so that nothing counting trials by stage or outcome counts it."""
    return {**summary_key(sweep, study, value), PARENT_TAG: parent_run_id}


def trial_id_of(run: Any) -> str:
    return run.data.tags.get(TRIAL_TAG, "")


def outcome_of(run: Any) -> Outcome | None:
    """A run's outcome; a run with no outcome tag is still running."""
    return Outcome.of(run.data.tags.get(OUTCOME_TAG, Outcome.RUNNING.value))


def attempts_of(run: Any) -> list[str]:
    return json.loads(run.data.tags.get(ATTEMPTS_TAG, "[]"))


def read(run: Any) -> TrialRecord:
    """A trial's MLflow run (``mlflow.entities.Run``) as a record."""
    tags = run.data.tags
    seed = tags.get(SEED, "")
    return TrialRecord(
        run_id=run.info.run_id, study=tags.get(STUDY, ""), value=tags.get(VALUE, ""), stage=tags.get(STAGE, ""),
        seed=int(seed) if seed.lstrip("-").isdigit() else None, outcome=Outcome.of(tags.get(OUTCOME_TAG)),
        trial_id=tags.get(TRIAL_TAG, ""), sweep=tags.get(SWEEP, ""), failure_reason=tags.get(REASON_TAG, ""),
        protocol=decode_protocol(tags.get(PROTOCOL, "")), final_protocol=decode_protocol(tags.get(FINAL_PROTOCOL, "")),
        params=dict(run.data.params), metrics=dict(run.data.metrics), status=run.info.status,
        start_time=run.info.start_time, end_time=run.info.end_time, attempts=tuple(attempts_of(run)))


def query(*, sweep: str | None = None, study: str | None = None, stage: str | None = None,
          outcome: Outcome | None = None, trial_id: str | None = None) -> str:
    """An MLflow filter string for the trial runs with these tags."""
    terms = {KIND_TAG: TRIAL_KIND, SWEEP: sweep, STUDY: study, STAGE: stage, TRIAL_TAG: trial_id,
             OUTCOME_TAG: outcome.value if outcome is not None else None}
    return " and ".join(f"tags.`{key}` = '{value}'" for key, value in terms.items() if value is not None)
