"""Sweep files: validated before Ray starts, in the tuning playbook's words.

A file holds one study (keys at top level) or ``studies:`` (a list of them). Each study compares
``scientific`` values (their cross product), tunes ``nuisance`` parameters for every value with an
equal budget (``num_samples`` trials, the same generator steps), then reruns each value's best config
``seeds`` times. Every error names the offending key and exits with code 2, like config errors.

``scientific`` is either a mapping (the cross product of its keys' values) or a list of explicit
variants, e.g. a loss comparison plus packed-discriminator variants of one loss. A benchmark file adds
a ``benchmark:`` block whose ``budgets`` (``small``: this machine, ``paper``: the published budget)
override study keys; see ``search_spaces/benchmarks/``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.config import FIELDS, flatten, read_yaml, resolve
from ganbench.errors import ConfigError, GanbenchError, choices_hint

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
SAMPLERS = ("tpe", "qmc", "random")
SCHEDULERS = ("asha", "none")
RANK_ON = ("best", "last")
SEARCHER_KEYS = ("name", "sampler", "seed", "n_startup_trials")
SCHEDULER_KEYS = ("name", "grace_period", "reduction_factor")
STUDY_KEYS = ("study", "metric", "mode", "fixed", "scientific", "nuisance", "num_samples", "seeds", "searcher",
              "scheduler", "resources", "max_concurrent", "reference", "description", "baseline", "rank_on")
BENCHMARK_KEYS = ("title", "summary", "requires", "default_budget", "budgets")
BUDGETS = ("small", "paper")


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
        return f"best_{self.metric}" if self.rank_on == "best" else self.metric

    def startup_trials(self) -> int:
        """TPE samples at random before it models anything. Optuna's default (10) would leave a small budget
        all random, so by default a third of each value's trials, between 3 and 10, are start-up."""
        return self.n_startup_trials or min(10, max(3, self.num_samples // 3))

    def space(self, value: dict[str, Any]) -> dict[str, Distribution]:
        """The tuned parameters of one value: the shared nuisance plus its ``per_value`` extras."""
        return {**self.nuisance, **self.per_value.get(self.label(value), {})}

    def config(self, value: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Dotted keys for one trial."""
        return {**self.fixed, **value, **params}


@dataclass(frozen=True)
class SweepFile:
    path: Path
    studies: list[Study]
    text: str
    budget: str = ""           # a benchmark file's budget ("small", "paper"); "" for plain sweep files
    benchmark: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        from ganbench import __version__

        # A plain sweep file hashes as it always did, so sweeps started before budgets existed still resume.
        budget = f"{self.budget}\n" if self.budget else ""
        return hashlib.sha256((self.text + "\n" + budget + __version__).encode()).hexdigest()


def _require(tree: dict[str, Any], key: str, where: str) -> Any:
    if key not in tree:
        raise ConfigError(f"{where}{key}", "missing")
    return tree[key]


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(key, f"expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(key, f"expected a number, got {value!r}") from None


def parse_distribution(raw: Any, key: str) -> Distribution:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ConfigError(key, f"expected one of {{{', '.join(DISTRIBUTIONS)}: [...]}}, got {raw!r}")
    (kind, args), = raw.items()
    if kind not in DISTRIBUTIONS:
        raise ConfigError(key, f"unknown distribution {kind!r}; {choices_hint(str(kind), DISTRIBUTIONS)}")
    if not isinstance(args, list) or not args:
        raise ConfigError(key, f"{kind} needs a list, e.g. {kind}: [low, high]")
    if kind == "choice":
        return Distribution(kind, tuple(args))
    if len(args) != 2:
        raise ConfigError(key, f"{kind} needs [low, high], got {args!r}")
    low, high = (_number(a, key) for a in args)
    if kind == "int":
        if not (low.is_integer() and high.is_integer()):
            raise ConfigError(key, f"int needs integer bounds, got {args!r}")
        low, high = int(low), int(high)
    if low >= high:
        raise ConfigError(key, f"low must be below high, got {args!r}")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(key, f"loguniform needs low > 0, got {args!r}")
    return Distribution(kind, (low, high))


def _config_keys(tree: Any, where: str) -> dict[str, Any]:
    if not isinstance(tree, dict):
        raise ConfigError(where, f"expected a mapping of config keys, got {tree!r}")
    flat = flatten(tree)
    for key in flat:
        if key not in FIELDS:
            raise ConfigError(f"{where}.{key}", f"unknown config key; {choices_hint(key, FIELDS)}")
    return flat


def parse_study(tree: dict[str, Any], where: str = "") -> Study:
    for key in tree:
        if key not in STUDY_KEYS:
            raise ConfigError(f"{where}{key}", f"unknown sweep key; {choices_hint(key, STUDY_KEYS)}")
    name = _require(tree, "study", where)
    mode = _require(tree, "mode", where)
    if mode not in ("min", "max"):
        raise ConfigError(f"{where}mode", f"invalid value {mode!r}; available: max, min")
    fixed = _config_keys(tree.get("fixed", {}), f"{where}fixed")
    raw_scientific = _require(tree, "scientific", where)
    variants: list[dict[str, Any]] = []
    if isinstance(raw_scientific, list):
        if not raw_scientific:
            raise ConfigError(f"{where}scientific", "needs at least one variant to compare")
        variants = [_config_keys(v, f"{where}scientific[{i}]") for i, v in enumerate(raw_scientific)]
        scientific = {k: list(dict.fromkeys(v.get(k) for v in variants)) for k in dict.fromkeys(k for v in variants
                                                                                                  for k in v)}
    else:
        scientific = {k: v if isinstance(v, list) else [v]
                      for k, v in _config_keys(raw_scientific, f"{where}scientific").items()}
    if not scientific or any(not v for v in scientific.values()):
        raise ConfigError(f"{where}scientific", "needs at least one key with a list of values to compare")
    raw_nuisance = dict(tree.get("nuisance") or {})
    raw_per_value = raw_nuisance.pop("per_value", {}) or {}
    nuisance: dict[str, Distribution] = {}
    for key, raw in raw_nuisance.items():
        if key not in FIELDS:
            raise ConfigError(f"{where}nuisance.{key}", f"unknown config key; {choices_hint(key, FIELDS)}")
        nuisance[key] = parse_distribution(raw, f"{where}nuisance.{key}")
    searcher = tree.get("searcher") or {}
    scheduler = tree.get("scheduler") or {}
    resources = tree.get("resources") or {}
    for block, allowed in (("searcher", SEARCHER_KEYS), ("scheduler", SCHEDULER_KEYS), ("resources", ("cpu", "gpu"))):
        raw = tree.get(block) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}{block}", f"expected a mapping with {', '.join(allowed)}")
        for key in raw:
            if key not in allowed:
                raise ConfigError(f"{where}{block}.{key}", f"unknown key; {choices_hint(str(key), allowed)}")
    study = Study(
        name=str(name), metric=str(_require(tree, "metric", where)), mode=mode, fixed=fixed, scientific=scientific,
        nuisance=nuisance, per_value={}, num_samples=_positive_int(_require(tree, "num_samples", where),
                                                                   f"{where}num_samples"),
        seeds=_positive_int(tree.get("seeds", 3), f"{where}seeds", minimum=0),
        sampler=_choice(searcher.get("sampler", "tpe"), SAMPLERS, f"{where}searcher.sampler"),
        searcher_seed=_positive_int(searcher.get("seed", 0), f"{where}searcher.seed", minimum=0),
        n_startup_trials=_positive_int(searcher.get("n_startup_trials", 0), f"{where}searcher.n_startup_trials",
                                       minimum=0),
        scheduler=_choice(scheduler.get("name", "asha"), SCHEDULERS, f"{where}scheduler.name"),
        grace_period=_positive_int(scheduler.get("grace_period", 0), f"{where}scheduler.grace_period", minimum=0),
        reduction_factor=_positive_int(scheduler.get("reduction_factor", 3), f"{where}scheduler.reduction_factor",
                                       minimum=2),
        cpu=_number(resources.get("cpu", 1), f"{where}resources.cpu"),
        gpu=_number(resources.get("gpu", 0), f"{where}resources.gpu"),
        max_concurrent=_positive_int(tree.get("max_concurrent", 0), f"{where}max_concurrent", minimum=0),
        reference=list(tree.get("reference") or []), variants=variants, baseline=str(tree.get("baseline") or ""),
        rank_on=_choice(tree.get("rank_on", "best"), RANK_ON, f"{where}rank_on"),
    )
    if searcher.get("name", "optuna") != "optuna":
        raise ConfigError(f"{where}searcher.name", f"invalid value {searcher.get('name')!r}; available: optuna")
    labels = {study.label(v): v for v in study.values()}
    if len(labels) != len(study.values()):
        raise ConfigError(f"{where}scientific", f"two variants share a label: {[study.label(v) for v in study.values()]}")
    if study.baseline and study.baseline not in labels:
        raise ConfigError(f"{where}baseline", f"not a compared value; {choices_hint(study.baseline, labels)}")
    per_value: dict[str, dict[str, Distribution]] = {}
    for label, params in raw_per_value.items():
        if str(label) not in labels:
            raise ConfigError(f"{where}nuisance.per_value.{label}",
                              f"not a compared value; {choices_hint(str(label), labels)}")
        if not isinstance(params, dict):
            raise ConfigError(f"{where}nuisance.per_value.{label}", "expected a mapping of config keys")
        per_value[str(label)] = {}
        for key, raw in params.items():
            if key not in FIELDS:
                raise ConfigError(f"{where}nuisance.per_value.{label}.{key}",
                                  f"unknown config key; {choices_hint(key, FIELDS)}")
            per_value[str(label)][key] = parse_distribution(raw, f"{where}nuisance.per_value.{label}.{key}")
    study = Study(**{**study.__dict__, "per_value": per_value})
    _check_configs(study, where)
    _check_references(study, labels, where)
    return study


REFERENCE_KEYS = ("source", "row", "value", "metric", "mean", "err", "tolerance", "protocol", "note")
# What a published number's protocol may state; the report flags each one that differs from ours.
REFERENCE_PROTOCOL_KEYS = ("data", "model", "steps", "n_samples", "batch_size", "configs", "seeds")


def _check_references(study: Study, labels: dict[str, Any], where: str) -> None:
    """Published numbers: each names its source, our compared value, the metric, its mean and tolerance."""
    for i, ref in enumerate(study.reference):
        key = f"{where}reference[{i}]"
        if not isinstance(ref, dict):
            raise ConfigError(key, "expected a mapping with source, row, value, metric, mean, tolerance, protocol")
        for name in ref:
            if name not in REFERENCE_KEYS:
                raise ConfigError(f"{key}.{name}", f"unknown reference key; {choices_hint(name, REFERENCE_KEYS)}")
        for name in ("source", "row", "metric", "mean", "tolerance"):
            _require(ref, name, f"{key}.")
        # A row with no counterpart here (VEEGAN, Unrolled GAN) is context: shown, never given a verdict.
        if ref.get("value") is not None and str(ref["value"]) not in labels:
            raise ConfigError(f"{key}.value", f"not a compared value; {choices_hint(str(ref['value']), labels)}")
        _number(ref["mean"], f"{key}.mean")
        _number(ref["tolerance"], f"{key}.tolerance")
        protocol = ref.get("protocol") or {}
        if not isinstance(protocol, dict):
            raise ConfigError(f"{key}.protocol", f"expected a mapping with {', '.join(REFERENCE_PROTOCOL_KEYS)}")
        for name in protocol:
            if name not in REFERENCE_PROTOCOL_KEYS:
                raise ConfigError(f"{key}.protocol.{name}",
                                  f"unknown protocol key; {choices_hint(str(name), REFERENCE_PROTOCOL_KEYS)}")
        if ref.get("value") is not None:  # a verdict needs our number: the metric must be one we report
            from ganbench.train import metric_keys

            value = labels[str(ref["value"])]
            keys = metric_keys(resolve(study.config(value, {k: d.midpoint() for k, d in study.space(value).items()})))
            if ref["metric"] not in keys:
                raise ConfigError(f"{key}.metric", f"{ref['metric']!r} is not reported for {ref['value']}; "
                                                   f"{choices_hint(str(ref['metric']), keys)}")


def _positive_int(value: Any, key: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, f"expected an integer >= {minimum}, got {value!r}")
    return value


def _choice(value: Any, choices: tuple[str, ...], key: str) -> str:
    if value not in choices:
        raise ConfigError(key, f"invalid value {value!r}; {choices_hint(str(value), choices)}")
    return value


def _check_configs(study: Study, where: str) -> None:
    """Every compared value must give a valid config, and the metric must be one it reports."""
    from ganbench.train import metric_keys

    for value in study.values():
        midpoint = {key: dist.midpoint() for key, dist in study.space(value).items()}
        try:
            config = resolve(study.config(value, midpoint))
        except ConfigError as error:
            raise ConfigError(f"{where}{error.key}", f"{str(error).split(': ', 1)[1]} (for {study.label(value)})") \
                from None
        keys = metric_keys(config)
        if study.metric not in keys:
            raise ConfigError(f"{where}metric", f"{study.metric!r} is not reported for {study.label(value)}; "
                                                f"{choices_hint(study.metric, keys)}")


def load_sweep(path: str | Path, budget: str | None = None) -> SweepFile:
    """A sweep file, or a benchmark file at ``budget`` (default: its ``default_budget``, else small)."""
    path = Path(path)
    tree = read_yaml(path)
    benchmark = tree.pop("benchmark", None)
    if benchmark is not None:
        tree, budget = _apply_budget(tree, benchmark, budget)
    elif budget:
        raise ConfigError("--budget", f"{path.name} is a sweep file, not a benchmark (no `benchmark:` block)")
    if "studies" in tree:
        if set(tree) - {"studies"} or not isinstance(tree["studies"], list) or not tree["studies"]:
            raise ConfigError("studies", "expected a non-empty list of studies and nothing beside it")
        studies = [parse_study(t, f"studies[{i}].") if isinstance(t, dict) else _not_mapping(i)
                   for i, t in enumerate(tree["studies"])]
    else:
        studies = [parse_study(tree)]
    names = [s.name for s in studies]
    if len(set(names)) != len(names):
        raise ConfigError("study", f"study names must be unique, got {names}")
    return SweepFile(path=path.resolve(), studies=studies, text=path.read_text(), budget=budget or "",
                     benchmark=benchmark or {})


def _apply_budget(tree: dict[str, Any], benchmark: Any, budget: str | None) -> tuple[dict[str, Any], str]:
    """Merge a budget's study keys into every study: ``fixed`` and ``scheduler`` key by key, others replaced."""
    if not isinstance(benchmark, dict):
        raise ConfigError("benchmark", f"expected a mapping with {', '.join(BENCHMARK_KEYS)}")
    for key in benchmark:
        if key not in BENCHMARK_KEYS:
            raise ConfigError(f"benchmark.{key}", f"unknown benchmark key; {choices_hint(key, BENCHMARK_KEYS)}")
    budgets = benchmark.get("budgets") or {}
    if not isinstance(budgets, dict):
        raise ConfigError("benchmark.budgets", f"expected a mapping of {', '.join(BUDGETS)} to study keys")
    for name in budgets:
        if name not in BUDGETS:
            raise ConfigError(f"benchmark.budgets.{name}", f"unknown budget; {choices_hint(str(name), BUDGETS)}")
    where = "--budget" if budget else "benchmark.default_budget"
    budget = budget or benchmark.get("default_budget", "small")
    if budget not in budgets:
        raise ConfigError(where, f"invalid value {budget!r}; available: {', '.join(budgets) or 'none'}")
    override = budgets[budget] or {}
    if not isinstance(override, dict):
        raise ConfigError(f"benchmark.budgets.{budget}", "expected a mapping of study keys")
    for key in override:
        if key not in STUDY_KEYS:
            raise ConfigError(f"benchmark.budgets.{budget}.{key}",
                              f"unknown sweep key; {choices_hint(key, STUDY_KEYS)}")

    def merged(study: Any) -> Any:
        if not isinstance(study, dict):
            return study
        out = dict(study)
        for key, value in override.items():
            if key in ("fixed", "scheduler") and isinstance(value, dict):
                base = flatten(out.get(key) or {}) if key == "fixed" else dict(out.get(key) or {})
                out[key] = {**base, **(flatten(value) if key == "fixed" else value)}
            else:
                out[key] = value
        return out

    if "studies" in tree and isinstance(tree["studies"], list):
        return {**tree, "studies": [merged(s) for s in tree["studies"]]}, budget
    return merged(tree), budget


def _not_mapping(index: int) -> Study:
    raise GanbenchError(f"studies[{index}]: expected a mapping")


def describe(study: Study) -> dict[str, Any]:
    """Plain data for the parent run's artifact and --plan."""
    return json.loads(json.dumps({**study.__dict__, "values": [study.label(v) for v in study.values()],
                                  "nuisance": {k: [d.kind, *d.args] for k, d in study.nuisance.items()},
                                  "per_value": {v: {k: [d.kind, *d.args] for k, d in p.items()}
                                                for v, p in study.per_value.items()}}, default=str))
