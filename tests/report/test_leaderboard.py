"""The leaderboard table on its own (no store): what it ranks, and what it refuses to rank."""

from __future__ import annotations

import math

from ganbench.report.leaderboard import leaderboard_table
from ganbench.sweep.study import Study

STUDY = Study.described({"name": "s", "metric": "modes", "mode": "max", "values": ["hinge", "non_saturating"],
         "scientific": {"loss.name": ["hinge", "non_saturating"]}, "rank_on": "best"})


def row(value: str, finals: list[float]) -> dict:
    return {"value": value, "finals": finals, "n": len(finals), "mean": sum(finals) / len(finals) if finals else math.nan,
            "std": math.nan, "ci": (math.nan, math.nan), "best_single": 7.0, "completed": len(finals),
            "stopped_early": 0, "diverged": 0, "failed": 0}


def test_a_study_with_no_final_runs_is_unranked():
    lines = leaderboard_table([row("hinge", []), row("non_saturating", [])], STUDY)
    assert lines[0].startswith("**Unranked**: no final-stage run has finished")
    ranks = [line.split("|")[1].strip() for line in lines
             if line.startswith("| ") and ("hinge" in line or "non_saturating" in line)]
    assert ranks == ["unranked", "unranked"]


def test_only_values_with_final_runs_get_a_rank():
    lines = leaderboard_table([row("hinge", [7.0, 8.0]), row("non_saturating", [])], STUDY)
    assert not lines[0].startswith("**Unranked**")
    cells = {line.split("|")[2].strip(): line.split("|")[1].strip() for line in lines[2:]}
    assert cells == {"hinge": "1", "non_saturating": "unranked"}
