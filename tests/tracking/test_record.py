"""The trial record and its codec: what a run's tags mean, written in one place and read back the same, from
stores of this version and of older ones."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ganbench.tracking import record
from ganbench.tracking.record import Outcome, TrialRecord

PROTOCOL = {"modes2d": {"n_fake": 2500, "high_quality_stds": 3, "split": "test"}}


def run(tags: dict[str, str], metrics: dict[str, float] | None = None) -> SimpleNamespace:
    """An ``mlflow.entities.Run`` as far as the codec reads one."""
    return SimpleNamespace(info=SimpleNamespace(run_id="r1", status="FINISHED", start_time=5, end_time=9),
                           data=SimpleNamespace(tags=tags, params={"train.steps": "30"}, metrics=metrics or {}))


def test_what_is_written_reads_back():
    tags = {**record.trial_tags("sw", "parent", "t1", {"study": "s", "value": "hinge,1", "stage": "final"}, seed=1003),
            **record.outcome_tags(Outcome.FAILED, "RuntimeError: boom"),
            **record.protocol_tags(PROTOCOL, final={"modes2d": {"n_fake": 10000}}), **record.attempts_tag(["a", "b"])}
    trial = record.read(run(tags, {"final_eval_modes": 7.0}))
    assert trial == TrialRecord(
        run_id="r1", study="s", value="hinge,1", stage="final", seed=1003, outcome=Outcome.FAILED, trial_id="t1",
        sweep="sw", failure_reason="RuntimeError: boom", protocol=PROTOCOL, final_protocol={"modes2d": {"n_fake": 10000}},
        params={"train.steps": "30"}, metrics={"final_eval_modes": 7.0}, status="FINISHED", start_time=5, end_time=9,
        attempts=("a", "b"))
    assert record.is_trial(run(tags)) and record.outcome_of(run(tags)) is Outcome.FAILED


def test_a_run_written_by_an_older_ganbench_reads_through_the_same_codec():
    """Before the codec: tags were literal strings and protocols a Python dict's text, cut at 5000 characters."""
    old = {"ganbench.trial_id": "abc_00001", "ganbench.kind": "trial", "mlflow.parentRunId": "p", "sweep": "quickstart",
           "study": "ring8_losses", "value": "wgan_gp", "stage": "search", "seed": "0", "outcome": "stopped_early",
           "protocol": str(PROTOCOL)[:5000], "final_protocol": str({"modes2d": {"n_fake": 2500}})[:5000]}
    trial = record.read(run(old))
    assert (trial.study, trial.value, trial.stage, trial.seed, trial.outcome) == (
        "ring8_losses", "wgan_gp", "search", 0, Outcome.STOPPED_EARLY)
    assert trial.protocol == PROTOCOL and trial.final_protocol == {"modes2d": {"n_fake": 2500}}
    assert trial.attempts == () and trial.failure_reason == ""


@pytest.mark.parametrize(("text", "expected"), [
    ("", {}), ('{"a": {"n": 1}}', {"a": {"n": 1}}), ("{'a': {'n': 1}}", {"a": {"n": 1}}),
    ("{'a': {'n': 1, 'why': 'per-cl", {}),  # an old protocol cut at the tag limit: no number invented
    ("[1, 2]", {}), ("not a protocol", {}),
])
def test_protocols_decode_from_json_and_from_older_stores(text, expected):
    assert record.decode_protocol(text) == expected


def test_a_run_without_outcome_or_seed_tags():
    trial = record.read(run({"ganbench.kind": "trial", "outcome": "something newer"}))
    assert trial.outcome is None and trial.outcome_text == "unknown" and trial.seed is None
    assert record.outcome_of(run({})) is Outcome.RUNNING  # no outcome tag yet: still running


def test_queries_name_only_the_tags_asked_for():
    assert record.query(study="s", stage="search") == \
        "tags.`ganbench.kind` = 'trial' and tags.`study` = 's' and tags.`stage` = 'search'"
    assert record.query(sweep="w", outcome=Outcome.RUNNING).endswith("tags.`outcome` = 'running'")
