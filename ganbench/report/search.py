"""What a study's search was, in words, as the report and ``--plan`` state it.

TPE samples at random for its first ``Study.startup_trials()`` trials of each value before it models anything. A
study whose values get no more trials than that (``num_samples: 3`` against 3 start-up trials) ran a random search,
with the same seeded configs for every value, and must not be described as tuned with TPE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ganbench.sweep.study import Study


def is_random_search(study: Study) -> bool:
    """Whether every search trial drew its config at random: the random sampler, or TPE whose start-up trials are
    all of each value's trials."""
    if study.sampler == "random":
        return True
    return study.sampler == "tpe" and 0 < study.num_samples <= study.startup_trials()


def search_method(study: Study) -> str:
    """The search as a phrase: ``no search``, ``random search``, ``random search (TPE's start-up)``, ``TPE after 3
    random start-up trials``, or the sampler's name."""
    if not study.num_samples:
        return "no search"
    if study.sampler == "random":
        return "random search"
    if study.sampler == "tpe":
        if is_random_search(study):
            return "random search (TPE's start-up)"
        return f"TPE after {study.startup_trials()} random start-up trials"
    return f"the {study.sampler} sampler"


def search_explained(study: Study) -> str:
    """``search_method`` with why, where the name alone would mislead: all of TPE's trials were start-up."""
    method = search_method(study)
    if study.sampler == "tpe" and is_random_search(study):
        return (f"{method}: {study.num_samples} trial(s) per value, all within TPE's {study.startup_trials()} random "
                "start-up trials, so TPE never modelled anything")
    return method
