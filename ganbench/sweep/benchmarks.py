"""``ganbench reproduce NAME``: a benchmark definition's sweep, its report, and the verdicts against the
published numbers.

Benchmark files live in ``search_spaces/benchmarks/``: an ordinary sweep file plus a ``benchmark:``
block whose ``budgets`` say how many trials, steps and seeds ``small`` (this machine) and ``paper`` (the
published protocol) use. Before anything starts, every study is checked for its data files and metric
weights, so a machine without MNIST or Inception stops with one line saying what to put where.
``--dry-run`` swaps in ``fake`` data of the same shape and trains a few steps of each study's first
trial: it proves a definition builds and trains without needing its data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ganbench.config import resolve, to_flat
from ganbench.data.base import DATASETS
from ganbench.errors import DataError, GanbenchError, choices_hint
from ganbench.report.build import build_report
from ganbench.resources import benchmarks_folder
from ganbench.sweep.driver import SweepOptions, check_runnable, default_name, missing_inputs, run
from ganbench.sweep.spec import check_name, load_sweep, override_lines, rdb_url
from ganbench.sweep.state import SweepState, storage_root
from ganbench.sweep.study import Study, SweepFile
from ganbench.tracking.store import default_tracking_uri
from ganbench.training.loop import train

DRY_RUN_STEPS = 3


def available() -> dict[str, Path]:
    folder = benchmarks_folder()
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def find(name: str) -> Path:
    """A benchmark by name (``ring8_pacgan``) or by path to its YAML file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    known = available()
    if name not in known:
        typed = path.stem if path.suffix in (".yaml", ".yml") else name  # a mistyped path: its name is what is close
        raise GanbenchError(f"benchmark {name!r} not found in {benchmarks_folder()}; "
                            f"{choices_hint(typed, known) if known else 'no benchmark files there'}")
    return known[name]


@dataclass
class ReproduceOptions:
    benchmark: str
    budget: str | None = None
    dry_run: bool = False
    out: str | None = None
    address: str | None = None
    tracking_uri: str | None = None
    storage: str | None = None
    max_concurrent: int | None = None
    sweep_name: str | None = None  # default NAME-BUDGET
    optuna_storage: str | None = None
    overrides: tuple[str, ...] = ()  # KEY=VALUE over every study's `fixed` keys


def dry_run_config(study: Study, value: dict[str, object]) -> dict[str, object]:
    """One value's trial (its search space's midpoint) on ``fake`` data of the real data's shape, trained
    for a few steps with no evaluation."""
    config = resolve(study.midpoint_config(value))
    shape = DATASETS.get(config.data.name).spec(config).shape
    flat = to_flat(config)
    flat.update({"data.name": "fake", "data.shape": list(shape), "eval.metrics": [], "eval.select": "",
                 "train.steps": DRY_RUN_STEPS, "eval.every": 10 * DRY_RUN_STEPS, "train.log_every": 1,
                 "train.batch_size": min(config.train.batch_size, 32), "train.threads": 1})
    return flat


def dry_run(sweep: SweepFile) -> list[str]:
    """Train every compared value for a few steps on fake data; say what a real run would need."""
    lines = []
    for study in sweep.studies:
        started = time.perf_counter()
        for value in study.values():
            result = train(resolve(dry_run_config(study, value)))
            if result.get("diverged"):
                raise GanbenchError(f"dry run of {study.name} / {study.label(value)}: diverged within "
                                    f"{DRY_RUN_STEPS} steps on fake data")
        try:
            check_runnable(study, None)
            needs = "ready to run here"
        except GanbenchError as error:
            needs = f"a real run would stop: {error}"
        lines.append(f"study {study.name}: each of {len(study.values())} values trained {DRY_RUN_STEPS} steps on fake "
                     f"data in {time.perf_counter() - started:.1f} s; {needs}")
    return lines


def verdict_lines(report_markdown: str) -> list[str]:
    """A built report's answers, study by study: against the baseline, and against published numbers."""
    lines, keep, study = [], False, ""
    for line in report_markdown.splitlines():
        if line.startswith("## Study"):
            study = line
        if line.startswith("### "):
            keep = line.startswith(("### Against published numbers", "### Does any value beat"))
            if keep:
                lines += ["", f"{study.lstrip('# ')}: {line.lstrip('# ')}"]
            continue
        if keep and line.strip():
            lines.append(line)
    return lines


def reproduce(options: ReproduceOptions) -> int:
    path = find(options.benchmark)
    sweep = load_sweep(path, options.budget, options.overrides)
    if not sweep.benchmark:
        raise GanbenchError(f"{path} has no `benchmark:` block; run plain sweep files with `ganbench sweep`")
    # Checked before a dry run too, so a command a report prints is refused there exactly as it would be for real.
    storage_root(options.storage)
    rdb_url(options.optuna_storage, "--optuna-storage")
    if options.dry_run:
        print("\n".join([*override_lines(sweep), *dry_run(sweep)]))
        print(f"dry run of {path.stem} ({sweep.budget} budget) passed")
        return 0
    # Before Ray or MLflow start: data files and metric weights, everything missing in one message. Resources
    # are checked against the cluster once Ray is up (a head node may have no GPU of its own).
    missing = list(dict.fromkeys(m for study in sweep.studies for m in missing_inputs(study)))
    if missing:
        raise DataError(f"{path.stem} cannot run here: " + "; and ".join(missing))
    name = check_name(options.sweep_name or default_name(sweep), "--name" if options.sweep_name else "sweep name")
    title = sweep.benchmark.get("title", path.stem)
    print(f"reproduce {title}: budget {sweep.budget}; sweep {name}")
    # A reproduce that was killed continues where it stopped; the file hash guards against a changed file.
    started = SweepState(storage_root(options.storage), name).load() is not None
    run(SweepOptions(file=str(path), name=name, resume=started, address=options.address,
                     tracking_uri=options.tracking_uri, storage=options.storage,
                     max_concurrent=options.max_concurrent, budget=sweep.budget, optuna_storage=options.optuna_storage,
                     overrides=options.overrides))
    out = Path(options.out or f"reports/benchmarks/{name}")
    uri = options.tracking_uri or default_tracking_uri()
    built = build_report(name, uri, out)
    verdicts = verdict_lines((out / "README.md").read_text())
    print("\n".join(verdicts) if verdicts else "no reference numbers in this benchmark")
    print(f"report: {out}/README.md and {out}/index.html; also on MLflow run {built.run_id}\n"
          f"  browse: {built.browse(uri)}")
    return 0

