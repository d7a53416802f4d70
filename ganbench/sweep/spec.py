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
override study keys; see ``search_spaces/benchmarks/``. Beside the study's keys (or ``studies:``),
``cpu_kernels: native | portable`` picks the CPU kernels of the whole sweep (``ganbench.sweep.cpu_kernels``).

Two stages. ``parse_sweep`` checks structure, keys, types and budgets against the frozen dataclasses below (each
field carries its documentation and checks) and imports no component registry, so no torch. ``load_sweep`` adds
``check_study``: every value's config resolved against the registries, the metric reported, the shared budget, the
published references. ``--plan`` and the driver call ``load_sweep``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.config.loading import flatten, parse_override, read_yaml, to_flat
from ganbench.config.schema import FIELDS
from ganbench.config.schema import _opt as option
from ganbench.config.values import REQUIRED, check_range, coerce, from_mapping, known_keys, number
from ganbench.errors import ConfigError, GanbenchError, choices_hint
from ganbench.metrics.keys import PREFIXES as METRIC_PREFIXES
from ganbench.metrics.keys import Direction
from ganbench.resources import benchmarks_folder, search_spaces, shipped_file
from ganbench.sweep.budgets import BUDGETS
from ganbench.sweep.cpu_kernels import CPU_KERNELS, DEFAULT_CPU_KERNELS
from ganbench.sweep.judge import RANK_ON
from ganbench.sweep.study import Distribution, Study, SweepFile

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
SAMPLERS = ("tpe", "qmc", "random")
SCHEDULERS = ("asha", "none")
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
    return known_keys(flatten(tree), FIELDS, f"{where}.", "config key")


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(name: str, key: str) -> str:
    """A study or sweep name, which names folders under --storage and MLflow experiments: letters, digits, '.',
    '_' and '-', starting with a letter or digit, at most 100 characters (so never a path out of --storage)."""
    if not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise ConfigError(key, f"{name!r} is not a valid name: use letters, digits, '.', '_' and '-' (starting with "
                               "a letter or digit, no '..', at most 100 characters); it names folders under --storage")
    return name


def check_metric(metric: Any, key: str) -> str:
    """A metric's name, as its evaluations report it: not a key derived from it (``best_``, ``final_``, ...)."""
    metric = str(metric)
    for prefix in METRIC_PREFIXES:
        if metric.startswith(prefix):
            raise ConfigError(key, f"{metric!r} names a reported key ({prefix}...), not a metric: give "
                                   f"metric: {metric.removeprefix(prefix)} (trials are judged on their "
                                   "best checkpoint by default; rank_on: last judges their last evaluation)")
    return metric


# The blocks of a sweep file. Each field carries its documentation and checks (``config.schema._opt``'s metadata);
# ``config.values.from_mapping`` refuses unknown keys with the choices and checks each given value.

@dataclass(frozen=True)
class Searcher:
    """``searcher:``, how each compared value's nuisance parameters are searched."""

    name: str = option("optuna", "the searcher (Optuna, one study per compared value)", choices=("optuna",))
    sampler: str = option("tpe", "Optuna's sampler", choices=SAMPLERS)
    seed: int = option(0, "the sampler's seed", min=0)
    n_startup_trials: int = option(0, "TPE's random start-up trials per value; 0 = a third of num_samples, between "
                                      "3 and 10", min=0)
    storage: str = option("", "an Optuna RDB URL every node reaches; '' = sqlite beside the sweep's state",
                          check=rdb_url)


@dataclass(frozen=True)
class Scheduler:
    """``scheduler:``, early stopping of search trials (seed reruns always run to the end)."""

    name: str = option("asha", "ASHA, or none (every trial runs its full budget)", choices=SCHEDULERS)
    grace_period: int = option(0, "generator steps before ASHA's first cut; 0 = one evaluation", min=0)
    reduction_factor: int = option(3, "ASHA keeps 1 in this many trials at each rung", min=2)


@dataclass(frozen=True)
class Resources:
    """``resources:``, what one trial reserves from Ray."""

    cpu: float = option(1.0, "CPUs per trial (fractions share a core)", min=0.0)
    gpu: float = option(0.0, "GPUs per trial (fractions share a device)", min=0.0)


@dataclass(frozen=True)
class StudyKeys:
    """One study's keys, as a file gives them; ``parse_study`` turns them into a ``Study``."""

    study: Any = option(REQUIRED, "the study's name: it names folders under --storage and MLflow experiments",
                        check=lambda value, key: check_name(str(value), key))
    metric: Any = option(REQUIRED, "the metric trials are judged on, as evaluations report it (not best_...)",
                         check=check_metric)
    mode: str = option(REQUIRED, "which way the metric is better", choices=tuple(sorted(d.value for d in Direction)))
    fixed: Any = option(None, "config keys every trial of the study shares (dotted or nested)")
    scientific: Any = option(REQUIRED, "what is compared: config keys with lists of values (their cross product), "
                                       "or a list of explicit variants")
    nuisance: Any = option(None, "what is tuned for every value, as distributions; per_value: ones for one value")
    num_samples: int = option(REQUIRED, "search trials per compared value; 0 = no search (fixed configs rerun)", min=0)
    seeds: int = option(3, "seed reruns of each value's best config", min=0)
    searcher: Any = option(None, "the searcher block (Searcher)")
    scheduler: Any = option(None, "the scheduler block (Scheduler)")
    resources: Any = option(None, "the resources block (Resources)")
    max_concurrent: int = option(0, "trials at once; 0 = as many as the resources allow", min=0)
    reference: Any = option(None, "published numbers to compare ours with (sweep.references)")
    description: Any = option("", "prose for the report")
    baseline: Any = option("", "a value label every other value is compared with")
    rank_on: str = option("best", "judge search trials on their best checkpoint or their last evaluation",
                          choices=RANK_ON)
    deterministic: bool = option(False, "run each value's search trials one after another, so TPE and ASHA see the "
                                        "same history on every run of the file")


@dataclass(frozen=True)
class Benchmark:
    """A benchmark file's ``benchmark:`` block."""

    title: Any = option("", "the benchmark's title")
    summary: Any = option("", "what it reproduces, for the report")
    requires: Any = option(None, "what it needs beyond the CPU install (extras, data)")
    default_budget: Any = option("small", "the budget run without --budget")
    budgets: Any = option(None, "study keys per budget (small, medium, paper) overriding the file's")
    # {budget: prose}: what a budget does differently from the paper beyond the protocol keys the reference rows
    # compare (reused picks, packing, optimizer), stated in the report beside the budget.
    notes: Any = option(None, "what a budget does differently from the paper, by budget")


STUDY_KEYS = tuple(StudyKeys.__dataclass_fields__)


def parse_study(tree: dict[str, Any], where: str = "", narrowed_by: str = "") -> Study:
    """One study's structure, keys and types (imports no torch; ``check_study`` resolves its configs).
    ``narrowed_by`` names a budget that replaced ``scientific`` with fewer values: the file's published rows of the
    values it leaves out are then shown as context (no verdict), not refused as unknown values."""
    keys = from_mapping(StudyKeys, tree, where, "sweep key")
    fixed = _config_keys(keys.fixed or {}, f"{where}fixed")
    variants: list[dict[str, Any]] = []
    if isinstance(keys.scientific, list):
        if not keys.scientific:
            raise ConfigError(f"{where}scientific", "needs at least one variant to compare")
        variants = [_config_keys(v, f"{where}scientific[{i}]") for i, v in enumerate(keys.scientific)]
        scientific = {k: list(dict.fromkeys(v.get(k) for v in variants)) for k in dict.fromkeys(k for v in variants
                                                                                                  for k in v)}
    else:
        scientific = {k: v if isinstance(v, list) else [v]
                      for k, v in _config_keys(keys.scientific, f"{where}scientific").items()}
    if not scientific or any(not v for v in scientific.values()):
        raise ConfigError(f"{where}scientific", "needs at least one key with a list of values to compare")
    raw_nuisance = dict(keys.nuisance or {})
    raw_per_value = raw_nuisance.pop("per_value", {}) or {}
    nuisance = _distributions(raw_nuisance, f"{where}nuisance")
    searcher = from_mapping(Searcher, keys.searcher, f"{where}searcher.")
    scheduler = from_mapping(Scheduler, keys.scheduler, f"{where}scheduler.")
    resources = from_mapping(Resources, keys.resources, f"{where}resources.")
    study = Study(
        name=keys.study, metric=keys.metric, mode=keys.mode, fixed=fixed, scientific=scientific,
        nuisance=nuisance, per_value={}, num_samples=keys.num_samples, seeds=keys.seeds,
        sampler=searcher.sampler, searcher_seed=searcher.seed, n_startup_trials=searcher.n_startup_trials,
        optuna_storage=searcher.storage, scheduler=scheduler.name, grace_period=scheduler.grace_period,
        reduction_factor=scheduler.reduction_factor, cpu=resources.cpu, gpu=resources.gpu,
        max_concurrent=keys.max_concurrent, reference=list(keys.reference or []), variants=variants,
        baseline=str(keys.baseline or ""), rank_on=keys.rank_on, deterministic=keys.deterministic,
    )
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
        per_value[str(label)] = _distributions(params, f"{where}nuisance.per_value.{label}")
    study = Study(**{**study.__dict__, "per_value": per_value})
    _check_stages(study, where)
    tuned = sorted((set(study.nuisance) | {k for params in study.per_value.values() for k in params}) & set(SHARED_KEYS))
    if tuned:
        raise ConfigError(f"{where}nuisance.{tuned[0]}", "is part of the budget and evaluation every trial of a study "
                                                         "shares, so it cannot be tuned; set it under `fixed:`")
    if narrowed_by:
        study = Study(**{**study.__dict__, "reference": [
            {**ref, "value": None, "note": f"not compared at the {narrowed_by} budget"}
            if isinstance(ref, dict) and ref.get("value") is not None and str(ref["value"]) not in labels else ref
            for ref in study.reference]})
    return study


def _distributions(tree: dict[str, Any], where: str) -> dict[str, Distribution]:
    """Tuned config keys (dotted), each with its distribution."""
    return {key: parse_distribution(raw, f"{where}.{key}") for key, raw in known_keys(tree, FIELDS, f"{where}.",
                                                                                     "config key").items()}


def check_study(study: Study, where: str = "") -> Study:
    """What needs the component registries (and so torch): every compared value resolves to a valid config that
    reports the metric, all share one budget and evaluation (returned as ``shared``), and the published references
    name metrics we report."""
    study = Study(**{**study.__dict__, "shared": _check_configs(study, where)})
    from ganbench.sweep.references import check_references  # resolves configs: the registries

    check_references(study, {study.label(v): v for v in study.values()}, where)
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
    from ganbench.config.loading import resolve  # imports the registries (torch) on first call
    from ganbench.training.loop import metric_keys  # torch, like resolve

    shared: dict[str, tuple[Any, str]] = {}
    for value in study.values():
        try:
            config = resolve(study.midpoint_config(value))
        except ConfigError as error:
            raise ConfigError(f"{where}{error.key}", f"{str(error).split(': ', 1)[1]} (for {study.label(value)})") \
                from None
        keys = metric_keys(config)
        if study.metric not in keys:
            raise ConfigError(f"{where}metric", f"{study.metric!r} is not reported for {study.label(value)}"
                                                f"{_unreported_metric_hint(study.metric, keys, config)}")
        flat = to_flat(config)
        for key in SHARED_KEYS:
            first, label = shared.setdefault(key, (flat[key], study.label(value)))
            if flat[key] != first:
                raise ConfigError(f"{where}{key}", f"differs between compared values ({label}: {first!r}, "
                                                   f"{study.label(value)}: {flat[key]!r}); every value of a study gets "
                                                   "the same budget and evaluation: set it under `fixed:`, or compare "
                                                   "such settings in separate studies")
    return {key: value for key, (value, _) in shared.items()}


def _unreported_metric_hint(metric: str, reported: set[str], config: Any) -> str:
    """What to set so that trials report ``metric``: with no metric configured at all (``image_folder``'s default)
    an empty list of choices would say nothing, so name ``eval.metrics`` and a family that reports it."""
    from ganbench.metrics import METRICS  # the registry (torch), as resolve above

    families = [name for name, family in METRICS.items() if metric in family.directions]
    if not reported:
        example = f", e.g. eval.metrics: [{families[0]}]" if families else ""
        return (f": it computes no metric (eval.metrics is empty, as data.name={config.data.name} leaves it); set "
                f"eval.metrics under `fixed:`{example}")
    return f"; {choices_hint(metric, reported)}" + (f"; add {families[0]} to eval.metrics to report it"
                                                    if families else "")


def load_sweep(path: str | Path, budget: str | None = None, overrides: tuple[str, ...] | list[str] = ()) -> SweepFile:
    """A sweep file, or a benchmark file at ``budget`` (default: its ``default_budget``, else small), with
    ``KEY=VALUE`` overrides of every study's ``fixed`` config keys (checked like the file's own), checked in full:
    ``parse_sweep``'s structure, then each study's configs resolved against the registries (``check_study``)."""
    sweep, wheres = _parse(path, budget, overrides)
    return dataclasses.replace(sweep, studies=[check_study(study, where)
                                               for study, where in zip(sweep.studies, wheres, strict=True)])


def parse_sweep(path: str | Path, budget: str | None = None,
                overrides: tuple[str, ...] | list[str] = ()) -> SweepFile:
    """``load_sweep`` without resolving configs: the file's structure, keys, types, budgets and overrides, checked
    without the component registries (so without torch). Its studies' ``shared`` settings are empty."""
    return _parse(path, budget, overrides)[0]


def _parse(path: str | Path, budget: str | None,
           overrides: tuple[str, ...] | list[str]) -> tuple[SweepFile, list[str]]:
    """The parsed file, and where each study sits in it (the prefix its errors name)."""
    path = sweep_file(path)
    tree = read_yaml(path)
    benchmark = tree.pop("benchmark", None)
    cpu_kernels = _cpu_kernels(tree.pop("cpu_kernels", DEFAULT_CPU_KERNELS))
    narrowed_by = ""
    if benchmark is not None:
        tree, budget = _apply_budget(tree, benchmark, budget)
        override = (benchmark.get("budgets") or {}).get(budget) or {}
        narrowed_by = budget if "scientific" in override and "reference" not in override else ""
    elif budget:
        raise ConfigError("--budget", f"{path.name} is a sweep file, not a benchmark (no `benchmark:` block)")
    fixed = command_line_fixed(overrides)
    tree = _apply_overrides(tree, fixed)
    if "studies" in tree:
        if set(tree) - {"studies"} or not isinstance(tree["studies"], list) or not tree["studies"]:
            raise ConfigError("studies", "expected a non-empty list of studies and nothing beside it")
        wheres = [f"studies[{i}]." for i in range(len(tree["studies"]))]
        studies = [parse_study(t, where, narrowed_by) if isinstance(t, dict) else _not_mapping(i)
                   for i, (t, where) in enumerate(zip(tree["studies"], wheres, strict=True))]
    else:
        wheres = [""]
        studies = [parse_study(tree, narrowed_by=narrowed_by)]
    for study in studies:
        _refuse_shadowed_overrides(study, fixed)
    names = [s.name for s in studies]
    if len(set(names)) != len(names):
        raise ConfigError("study", f"study names must be unique, got {names}")
    return SweepFile(path=path.resolve(), studies=studies, text=path.read_text(), budget=budget or "",
                     benchmark=benchmark or {}, overrides=tuple(overrides), cpu_kernels=cpu_kernels), wheres


def _cpu_kernels(raw: Any) -> str:
    """The file's top-level ``cpu_kernels:``, one for the whole sweep: every trial's process starts with its
    variables (Ray's runtime environment), and so does the driver, which computes the real-side statistics."""
    if raw not in CPU_KERNELS:
        raise ConfigError("cpu_kernels", f"invalid value {raw!r}; {choices_hint(str(raw), CPU_KERNELS)} (portable: the "
                                         "same digits on any x86 machine, slower; native: this CPU's fastest)")
    return raw


def sweep_file(typed: str | Path) -> Path:
    """The sweep file ``typed`` names (a path, or one of the shipped search spaces by its path in a checkout), or a
    one-line error suggesting the closest sweep or benchmark file."""
    path = shipped_file(typed)
    if path.is_file():
        return path
    candidates = {_shown(p): p for folder in (search_spaces(), benchmarks_folder(), Path(typed).parent)
                  if folder.is_dir() for p in sorted(folder.glob("*.yaml"))}
    by_stem = {p.stem: shown for shown, p in candidates.items()}
    close = (difflib.get_close_matches(str(typed), candidates, n=1)
             or [by_stem[stem] for stem in difflib.get_close_matches(Path(typed).stem, by_stem, n=1)])
    hint = f"did you mean {close[0]}?" if close else f"the shipped ones are in {_shown(search_spaces())}"
    raise GanbenchError(f"{typed}: no such sweep file; {hint}")


def _shown(path: Path) -> str:
    """``path`` as a user would type it from here: relative to the working directory when it is below it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def command_line_fixed(overrides: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Command-line ``KEY=VALUE`` items as config keys, each checked like a file's own value when it is resolved (a
    known key, its type, its range: the same messages); component names are checked with the rest of the config."""
    fixed: dict[str, Any] = {}
    given: dict[str, str] = {}
    for text in overrides:
        key, value = parse_override(text)
        known_keys({key: value}, FIELDS, "", "config key")
        if key in given:
            raise ConfigError(key, f"given twice on the command line ({given[key]} and {text.partition('=')[2]}); "
                                   "keep one")
        field, typ = FIELDS[key]
        fixed[key] = coerce(key, value, typ)
        check_range(key, fixed[key], field.metadata)
        given[key] = text.partition("=")[2]
    return fixed


def _refuse_shadowed_overrides(study: Study, fixed: dict[str, Any]) -> None:
    """An override goes under `fixed:`, and each value's own keys and its tuned parameters take precedence over
    `fixed:` in every trial: overriding one of them would change nothing that runs, so it is refused, saying why."""
    for key in fixed:
        if key in study.scientific:
            raise ConfigError(key, f"compared by study {study.name} (`scientific:`), so a command-line override "
                                   "cannot fix it: each compared value sets its own; to compare other values, copy "
                                   "the file and edit its `scientific:`")
        tuned_by = "nuisance" if key in study.nuisance else next(
            (f"nuisance.per_value.{label}" for label, space in study.per_value.items() if key in space), None)
        if tuned_by:
            raise ConfigError(key, f"tuned by study {study.name} (`{tuned_by}:`), so a command-line override "
                                   "cannot fix it: the search sets it in every trial; to fix it, copy the file and "
                                   f"move it from `{tuned_by}:` to `fixed:`")


def override_lines(sweep: SweepFile) -> list[str]:
    """What the command-line overrides change in each study's trials, beside the file's own values, for ``--plan``
    and ``--dry-run``: ``train.steps 600 -> 500``; a value the file already gives says so."""
    if not sweep.overrides:
        return []
    from ganbench.config.loading import resolve  # the registries (torch), as check_study

    plain = load_sweep(sweep.path, sweep.budget or None)
    keys = list(command_line_fixed(sweep.overrides))
    lines = []
    for before, after in zip(plain.studies, sweep.studies, strict=True):
        old = [to_flat(resolve(before.midpoint_config(value))) for value in before.values()]
        new = to_flat(resolve(after.reference_config()))  # the same in every value's trials: an override is fixed
        changes = []
        for key in keys:
            was, now = sorted({repr(flat[key]) for flat in old}), repr(new[key])
            changes.append(f"{key} {now} (the file's value already)" if was == [now] else
                           f"{key} {was[0] if len(was) == 1 else '(per value)'} -> {now}")
        lines.append(f"study {after.name}: command-line overrides, in every trial: {', '.join(changes)}")
    return lines


def _apply_overrides(tree: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """Command-line overrides (``command_line_fixed``) set config keys under every study's ``fixed``, as Hydra users
    expect."""
    if not fixed:
        return tree

    def merged(study: Any) -> Any:
        if not isinstance(study, dict):
            return study
        return {**study, "fixed": {**flatten(study.get("fixed") or {}), **fixed}}

    if "studies" in tree and isinstance(tree["studies"], list):
        return {**tree, "studies": [merged(s) for s in tree["studies"]]}
    return merged(tree)


def _apply_budget(tree: dict[str, Any], benchmark: Any, budget: str | None) -> tuple[dict[str, Any], str]:
    """Merge a budget's study keys into every study: ``fixed`` and ``scheduler`` key by key, others replaced."""
    block = from_mapping(Benchmark, benchmark, "benchmark.", "benchmark key")
    budgets = block.budgets or {}
    if not isinstance(budgets, dict):
        raise ConfigError("benchmark.budgets", f"expected a mapping of {', '.join(BUDGETS)} to study keys")
    known_keys(budgets, BUDGETS, "benchmark.budgets.", "budget")
    where = "--budget" if budget else "benchmark.default_budget"
    budget = budget or block.default_budget
    if budget not in budgets:
        raise ConfigError(where, f"invalid value {budget!r}; available: {', '.join(budgets) or 'none'}")
    override = budgets[budget] or {}
    if not isinstance(override, dict):
        raise ConfigError(f"benchmark.budgets.{budget}", "expected a mapping of study keys")
    known_keys(override, STUDY_KEYS, f"benchmark.budgets.{budget}.", "sweep key")

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
