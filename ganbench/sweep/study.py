"""What a sweep file describes, typed: a tuned parameter's distribution, a study (what it compares, tunes and fixes,
its budget and its judge) and the file itself. ``ganbench.sweep.spec`` parses and checks files into these;
``describe`` and ``Study.described`` carry a study to the sweep's parent run and back (for the report).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ganbench import __version__
from ganbench.sweep.judge import Judge, objective_key

RANK_ON_OF_OLD_STORES = "last"  # stores written before rank_on existed judged search trials on their last evaluation


@dataclass(frozen=True)
class Distribution:
    """One tuned parameter: ``{loguniform: [1e-5, 1e-2]}``, ``{int: [1, 5]}``, ``{choice: [a, b]}``."""

    kind: str
    args: tuple[Any, ...]

    def midpoint(self) -> Any:
        """A representative value, used to validate the config before anything runs."""
        if self.kind == "choice":
            return self.args[0]
        low, high = self.args
        if self.kind == "int":
            return (low + high) // 2
        return math.sqrt(low * high) if self.kind == "loguniform" else (low + high) / 2


@dataclass(frozen=True)
class Study:
    name: str
    metric: str
    mode: str
    fixed: dict[str, Any]
    scientific: dict[str, list[Any]]
    nuisance: dict[str, Distribution]
    per_value: dict[str, dict[str, Distribution]]
    num_samples: int
    seeds: int
    sampler: str = "tpe"
    searcher_seed: int = 0
    n_startup_trials: int = 0  # TPE's random start-up per value; 0 = a third of num_samples, between 3 and 10
    optuna_storage: str = ""   # searcher.storage: an Optuna RDB URL; "" = sqlite beside the sweep's state
    scheduler: str = "asha"
    grace_period: int = 0      # generator steps before ASHA's first cut; 0 = one evaluation
    reduction_factor: int = 3
    cpu: float = 1.0
    gpu: float = 0.0
    max_concurrent: int = 0    # 0 = as many as the resources allow
    reference: list[dict[str, Any]] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)  # explicit values; empty = cross product
    baseline: str = ""         # a value label every other value is compared with (e.g. non_saturating)
    rank_on: str = "best"      # judge search trials on their best checkpoint ("best") or last evaluation
    # True: each value runs its search trials one after another, so TPE and ASHA see the same history, in the same
    # order, on every run of the file (see DispatchingSearcher). False: as many at once as the resources allow.
    deterministic: bool = False
    shared: dict[str, Any] = field(default_factory=dict)  # SHARED_KEYS: one budget and evaluation for every value

    def values(self) -> list[dict[str, Any]]:
        """Each compared value as dotted config keys: the explicit variants, else the cross product of
        ``scientific``."""
        if self.variants:
            return [dict(v) for v in self.variants]
        keys = list(self.scientific)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.scientific.values())]

    @staticmethod
    def label(value: dict[str, Any]) -> str:
        return ",".join(str(v) for v in value.values())

    @property
    def objective(self) -> str:
        """The result key the searcher, ASHA and the choice of each value's best config judge trials on.

        ``best_<metric>`` is the metric of the checkpoint a trial keeps (chosen by ``eval.select``): the one
        its artifacts hold and the final stage reruns. A GAN's last evaluation is mostly noise (ring8's reverse
        KL swings between ~0.4 and ln 8 from one evaluation to the next), while its best checkpoint is
        predictable early, so it is what early stopping should compare."""
        return objective_key(self.metric, self.rank_on)

    @property
    def steps(self) -> int:
        """Generator steps of every trial (the study's budget per trial; ASHA's max_t)."""
        return int(self.shared["train.steps"])

    @property
    def eval_every(self) -> int:
        """Generator steps between evaluations, for every trial (ASHA's default grace period)."""
        return int(self.shared["eval.every"])

    @property
    def judge(self) -> Judge:
        """The study's rules for its trials: outcome, worth, direction."""
        return Judge.of(self)

    @classmethod
    def described(cls, description: dict[str, Any]) -> Study:
        """The study ``describe`` wrote to a sweep's parent run, typed again (for the report: no re-validation,
        which would need the config of the ganbench that ran it). Keys an older ganbench did not write keep their
        defaults, except ``rank_on``: stores written before it existed judged search trials on their last
        evaluation."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in description.items() if key in known}

        def distributions(raw: dict[str, Any]) -> dict[str, Distribution]:
            return {key: Distribution(kind, tuple(args)) for key, (kind, *args) in raw.items()}

        return cls(**{
            "fixed": {}, "scientific": {}, "num_samples": 0, "seeds": 0, **values,
            "nuisance": distributions(description.get("nuisance") or {}),
            "per_value": {label: distributions(space) for label, space in (description.get("per_value") or {}).items()},
            "variants": [dict(v) for v in description.get("variants") or []],
            "reference": list(description.get("reference") or []),
            "rank_on": description.get("rank_on", RANK_ON_OF_OLD_STORES),
        })

    def midpoint_config(self, value: dict[str, Any]) -> dict[str, Any]:
        """Dotted keys of a representative trial of ``value``: its search space at its midpoint. Used to check,
        plan and dry-run a study before any trial exists."""
        return self.config(value, {key: dist.midpoint() for key, dist in self.space(value).items()})

    def reference_config(self) -> dict[str, Any]:
        """Dotted keys of one trial: the real-side statistics and the divergence sentinel are built from it,
        which holds for every value because their SHARED_KEYS are checked equal."""
        return self.midpoint_config(self.values()[0])

    def startup_trials(self) -> int:
        """TPE samples at random before it models anything. Optuna's default (10) would leave a small budget
        all random, so by default a third of each value's trials, between 3 and 10, are start-up."""
        return self.n_startup_trials or min(10, max(3, self.num_samples // 3))

    def space(self, value: dict[str, Any] | str) -> dict[str, Distribution]:
        """The tuned parameters of one value (its config keys, or its label): the shared nuisance plus its
        ``per_value`` extras."""
        label = value if isinstance(value, str) else self.label(value)
        return {**self.nuisance, **self.per_value.get(label, {})}

    def config(self, value: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Dotted keys for one trial."""
        return {**self.fixed, **value, **params}


@dataclass(frozen=True)
class SweepFile:
    path: Path
    studies: list[Study]
    text: str
    budget: str = ""           # a benchmark file's budget (one of BUDGETS); "" for plain sweep files
    benchmark: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()  # KEY=VALUE given on the command line, over every study's `fixed`
    cpu_kernels: str = "native"  # `cpu_kernels:`, every trial's and the driver's (ganbench.sweep.cpu_kernels)

    @property
    def sha256(self) -> str:
        # A plain sweep file hashes as it always did, so sweeps started before budgets existed still resume.
        budget = f"{self.budget}\n" if self.budget else ""
        overrides = "".join(f"{o}\n" for o in self.overrides)
        return hashlib.sha256((self.text + "\n" + budget + overrides + __version__).encode()).hexdigest()


def describe(study: Study) -> dict[str, Any]:
    """Plain data for the parent run's artifact and --plan."""
    return json.loads(json.dumps({**study.__dict__, "values": [study.label(v) for v in study.values()],
                                  "nuisance": {k: [d.kind, *d.args] for k, d in study.nuisance.items()},
                                  "per_value": {v: {k: [d.kind, *d.args] for k, d in p.items()}
                                                for v, p in study.per_value.items()}}, default=str))
