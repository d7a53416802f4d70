"""Sweep files parsed and checked before Ray starts, in the tuning playbook's words (the types they become are in
``ganbench.sweep.study``).

A file holds one study (keys at top level) or ``studies:`` (a list of them). Each study compares
``scientific`` values (their cross product), tunes ``nuisance`` parameters for every value with an
equal budget (``num_samples`` trials, the same generator steps), then reruns each value's best config
``seeds`` times (``num_samples: 0``: no search, each value's fixed config is rerun). Every error names the
offending key and exits with code 2, like config errors.

``scientific`` is either a mapping (the cross product of its keys' values) or a list of explicit
variants, e.g. a loss comparison plus packed-discriminator variants of one loss. A benchmark file adds
a ``benchmark:`` block whose ``budgets`` (``small``: this machine, ``paper``: the published budget)
override study keys; see ``search_spaces/benchmarks/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ganbench.config import FIELDS, flatten, read_yaml, resolve, to_flat
from ganbench.config.loading import parse_override
from ganbench.config.values import number, one_of, positive_int, required
from ganbench.errors import ConfigError, GanbenchError, choices_hint
from ganbench.metrics.keys import PREFIXES as METRIC_PREFIXES
from ganbench.metrics.keys import Direction
from ganbench.resources import shipped_file
from ganbench.sweep.budgets import BUDGETS
from ganbench.sweep.judge import RANK_ON
from ganbench.sweep.references import check_references
from ganbench.sweep.study import Distribution, Study, SweepFile
from ganbench.training.loop import metric_keys

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
SAMPLERS = ("tpe", "qmc", "random")
SCHEDULERS = ("asha", "none")
SEARCHER_KEYS = ("name", "sampler", "seed", "n_startup_trials", "storage")
SCHEDULER_KEYS = ("name", "grace_period", "reduction_factor")
STUDY_KEYS = ("study", "metric", "mode", "fixed", "scientific", "nuisance", "num_samples", "seeds", "searcher",
              "scheduler", "resources", "max_concurrent", "reference", "description", "baseline", "rank_on",
              "deterministic")
# notes: {budget: prose} for what a budget does differently from the paper beyond the protocol keys the reference
# rows compare (reused picks, packing, optimizer), stated in the report beside the budget.
BENCHMARK_KEYS = ("title", "summary", "requires", "default_budget", "budgets", "notes")
# What every trial of a study shares, whatever value it compares: its budget (ASHA's max_t and grace period,
# whether a trial completed) and how it is evaluated (the real-side statistics, the divergence sentinel, the
# checkpoint a trial keeps). Values that disagree on one are refused, not silently given the first one's.
SHARED_KEYS = ("data.name", "train.steps", "eval.every", "eval.metrics", "eval.fidelity", "eval.select",
               "eval.n_samples", "eval.split", "eval.final_split", "eval.final_n_samples")


def rdb_url(raw: Any, key: str) -> str:
    """An Optuna RDB URL that every node can reach: PostgreSQL or MySQL, or sqlite on an absolute (shared) path."""
    url = str(raw or "")
    if not url:
        return ""
    scheme = url.partition("://")[0].split("+")[0]
    if scheme not in ("sqlite", "postgresql", "mysql"):
        raise ConfigError(key, f"expected an Optuna RDB URL (sqlite:////shared/optuna.db, postgresql://user@host/db, "
                               f"mysql://...), got {url!r}")
    if scheme == "sqlite" and not url.startswith("sqlite:////"):
        raise ConfigError(key, f"a sqlite file needs an absolute path (sqlite:////abs/path.db): trials run in their "
                               f"own working directories; got {url!r}")
    return url


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
    low, high = (number(a, key) for a in args)
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


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(name: str, key: str) -> str:
    """A study or sweep name, which names folders under --storage and MLflow experiments: letters, digits, '.',
    '_' and '-', starting with a letter or digit, at most 100 characters (so never a path out of --storage)."""
    if not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise ConfigError(key, f"{name!r} is not a valid name: use letters, digits, '.', '_' and '-' (starting with "
                               "a letter or digit, no '..', at most 100 characters); it names folders under --storage")
    return name


def parse_study(tree: dict[str, Any], where: str = "", narrowed_by: str = "") -> Study:
    """One study. ``narrowed_by`` names a budget that replaced ``scientific`` with fewer values: the file's published
    rows of the values it leaves out are then shown as context (no verdict), not refused as unknown values."""
    for key in tree:
        if key not in STUDY_KEYS:
            raise ConfigError(f"{where}{key}", f"unknown sweep key; {choices_hint(key, STUDY_KEYS)}")
    name = check_name(str(required(tree, "study", where)), f"{where}study")
    metric = str(required(tree, "metric", where))
    for prefix in METRIC_PREFIXES:
        if metric.startswith(prefix):
            raise ConfigError(f"{where}metric", f"{metric!r} names a reported key ({prefix}...), not a metric: give "
                                                f"metric: {metric.removeprefix(prefix)} (trials are judged on their "
                                                "best checkpoint by default; rank_on: last judges their last evaluation)")
    mode = one_of(required(tree, "mode", where), sorted(d.value for d in Direction), f"{where}mode")
    fixed = _config_keys(tree.get("fixed", {}), f"{where}fixed")
    raw_scientific = required(tree, "scientific", where)
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
        name=name, metric=metric, mode=mode, fixed=fixed, scientific=scientific,
        nuisance=nuisance, per_value={}, num_samples=positive_int(required(tree, "num_samples", where),
                                                                   f"{where}num_samples", minimum=0),
        seeds=positive_int(tree.get("seeds", 3), f"{where}seeds", minimum=0),
        sampler=one_of(searcher.get("sampler", "tpe"), SAMPLERS, f"{where}searcher.sampler"),
        searcher_seed=positive_int(searcher.get("seed", 0), f"{where}searcher.seed", minimum=0),
        n_startup_trials=positive_int(searcher.get("n_startup_trials", 0), f"{where}searcher.n_startup_trials",
                                       minimum=0),
        optuna_storage=rdb_url(searcher.get("storage", ""), f"{where}searcher.storage"),
        scheduler=one_of(scheduler.get("name", "asha"), SCHEDULERS, f"{where}scheduler.name"),
        grace_period=positive_int(scheduler.get("grace_period", 0), f"{where}scheduler.grace_period", minimum=0),
        reduction_factor=positive_int(scheduler.get("reduction_factor", 3), f"{where}scheduler.reduction_factor",
                                       minimum=2),
        cpu=number(resources.get("cpu", 1), f"{where}resources.cpu"),
        gpu=number(resources.get("gpu", 0), f"{where}resources.gpu"),
        max_concurrent=positive_int(tree.get("max_concurrent", 0), f"{where}max_concurrent", minimum=0),
        reference=list(tree.get("reference") or []), variants=variants, baseline=str(tree.get("baseline") or ""),
        rank_on=one_of(tree.get("rank_on", "best"), RANK_ON, f"{where}rank_on"),
        deterministic=one_of(tree.get("deterministic", False), (True, False), f"{where}deterministic"),
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
    _check_stages(study, where)
    study = Study(**{**study.__dict__, "shared": _check_configs(study, where)})
    if narrowed_by:
        study = Study(**{**study.__dict__, "reference": [
            {**ref, "value": None, "note": f"not compared at the {narrowed_by} budget"}
            if isinstance(ref, dict) and ref.get("value") is not None and str(ref["value"]) not in labels else ref
            for ref in study.reference]})
    check_references(study, labels, where)
    return study


def _check_stages(study: Study, where: str) -> None:
    """``num_samples: 0`` runs no search: each value's config is ``fixed`` plus the value, rerun over ``seeds``
    (a budget that reuses picks made elsewhere, or a paper's published settings). Then nothing may be tuned."""
    if study.num_samples:
        return
    tuned = next((v for v in study.values() if study.space(v)), None)
    if tuned is not None:
        raise ConfigError(f"{where}num_samples", f"0 runs no search, but {study.label(tuned)} has tuned parameters "
                                                 f"({', '.join(study.space(tuned))}); set num_samples >= 1, "
                                                 "or fix them under `fixed:` and set `nuisance: {}`")
    if not study.seeds:
        raise ConfigError(f"{where}seeds", "0 with num_samples 0 leaves nothing to run; set seeds >= 1")


def _check_configs(study: Study, where: str) -> dict[str, Any]:
    """Every compared value must give a valid config that reports the metric, and all must share one budget
    and evaluation; returns those shared settings."""
    tuned = sorted((set(study.nuisance) | {k for params in study.per_value.values() for k in params}) & set(SHARED_KEYS))
    if tuned:
        raise ConfigError(f"{where}nuisance.{tuned[0]}", "is part of the budget and evaluation every trial of a study "
                                                         "shares, so it cannot be tuned; set it under `fixed:`")
    shared: dict[str, tuple[Any, str]] = {}
    for value in study.values():
        try:
            config = resolve(study.midpoint_config(value))
        except ConfigError as error:
            raise ConfigError(f"{where}{error.key}", f"{str(error).split(': ', 1)[1]} (for {study.label(value)})") \
                from None
        keys = metric_keys(config)
        if study.metric not in keys:
            raise ConfigError(f"{where}metric", f"{study.metric!r} is not reported for {study.label(value)}; "
                                                f"{choices_hint(study.metric, keys)}")
        flat = to_flat(config)
        for key in SHARED_KEYS:
            first, label = shared.setdefault(key, (flat[key], study.label(value)))
            if flat[key] != first:
                raise ConfigError(f"{where}{key}", f"differs between compared values ({label}: {first!r}, "
                                                   f"{study.label(value)}: {flat[key]!r}); every value of a study gets "
                                                   "the same budget and evaluation: set it under `fixed:`, or compare "
                                                   "such settings in separate studies")
    return {key: value for key, (value, _) in shared.items()}


def load_sweep(path: str | Path, budget: str | None = None, overrides: tuple[str, ...] | list[str] = ()) -> SweepFile:
    """A sweep file, or a benchmark file at ``budget`` (default: its ``default_budget``, else small), with
    ``KEY=VALUE`` overrides of every study's ``fixed`` config keys (checked like the file's own)."""
    path = shipped_file(path)
    tree = read_yaml(path)
    benchmark = tree.pop("benchmark", None)
    narrowed_by = ""
    if benchmark is not None:
        tree, budget = _apply_budget(tree, benchmark, budget)
        override = (benchmark.get("budgets") or {}).get(budget) or {}
        narrowed_by = budget if "scientific" in override and "reference" not in override else ""
    elif budget:
        raise ConfigError("--budget", f"{path.name} is a sweep file, not a benchmark (no `benchmark:` block)")
    tree = _apply_overrides(tree, overrides)
    if "studies" in tree:
        if set(tree) - {"studies"} or not isinstance(tree["studies"], list) or not tree["studies"]:
            raise ConfigError("studies", "expected a non-empty list of studies and nothing beside it")
        studies = [parse_study(t, f"studies[{i}].", narrowed_by) if isinstance(t, dict) else _not_mapping(i)
                   for i, t in enumerate(tree["studies"])]
    else:
        studies = [parse_study(tree, narrowed_by=narrowed_by)]
    names = [s.name for s in studies]
    if len(set(names)) != len(names):
        raise ConfigError("study", f"study names must be unique, got {names}")
    return SweepFile(path=path.resolve(), studies=studies, text=path.read_text(), budget=budget or "",
                     benchmark=benchmark or {}, overrides=tuple(overrides))


def _apply_overrides(tree: dict[str, Any], overrides: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Command-line ``KEY=VALUE`` items set config keys under every study's ``fixed``, as Hydra users expect."""
    if not overrides:
        return tree
    fixed = {}
    for text in overrides:
        key, value = parse_override(text)
        if key not in FIELDS:
            raise ConfigError(key, f"unknown config key; {choices_hint(key, FIELDS)}")
        fixed[key] = value

    def merged(study: Any) -> Any:
        if not isinstance(study, dict):
            return study
        return {**study, "fixed": {**flatten(study.get("fixed") or {}), **fixed}}

    if "studies" in tree and isinstance(tree["studies"], list):
        return {**tree, "studies": [merged(s) for s in tree["studies"]]}
    return merged(tree)


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
