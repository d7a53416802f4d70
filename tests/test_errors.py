"""Error hints: the closest name first, and never an empty list of choices."""

from __future__ import annotations

from ganbench.errors import choices_hint


def test_the_closest_name_comes_first():
    assert choices_hint("hnge", ["least_squares", "hinge"]) == "did you mean 'hinge'? available: hinge, least_squares"


def test_no_choices_says_none_rather_than_an_empty_list():
    assert choices_hint("fid_inception", []) == "available: none"
