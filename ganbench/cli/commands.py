"""What the CLI's subcommands do (imported only after parsing, since it pulls in torch)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from ganbench.config import Config, describe_keys, load_config, to_dict
from ganbench.config.validation import REGISTRIES
from ganbench.data import DATASETS
from ganbench.errors import GanbenchError
from ganbench.metrics.extractors import EXTRACTORS
from ganbench.metrics.lenet import train_lenet
from ganbench.sweep.cpu_kernels import use_cpu_kernels
from ganbench.training import checkpoint
from ganbench.training.final import final_evaluation
from ganbench.training.loop import resolve_device
from ganbench.training.loop import train as run_training
from ganbench.training.plots import save_class_grid, save_samples
from ganbench.training.sampling import dataset_of, draw, draw_per_class, load_generator, to_export

CHECKPOINT = "checkpoint.pt"


def _default_out(config: Config) -> Path:
    loss = config.loss.preset or config.loss.name
    return Path("runs") / f"{config.data.name}-{loss}-{time.strftime('%Y%m%d-%H%M%S')}"


def _resolve_train_config(args: argparse.Namespace, out: Path | None) -> tuple[Config, dict[str, Any] | None]:
    if not args.resume:
        return load_config(args.config, args.overrides), None
    if out is None:
        raise GanbenchError("--resume needs --out DIR, the folder of the run to continue")
    state = checkpoint.load(out / CHECKPOINT)
    if args.config is None and not args.overrides:
        return checkpoint.config_of(state), state
    config = load_config(args.config, args.overrides)
    checkpoint.check_resumable(state, config, force=args.force)
    return config, state


def train(args: argparse.Namespace) -> int:
    use_cpu_kernels(args.cpu_kernels, "--cpu-kernels")  # before torch's first operation (it reads them then)
    out = Path(args.out) if args.out else None
    config, state = _resolve_train_config(args, out)
    # Everything that can be wrong with the input is checked before the folder exists.
    DATASETS.get(config.data.name)(config).check_available()
    out = out or _default_out(config)
    if state is None and (out / CHECKPOINT).exists():
        raise GanbenchError(f"--out {out}: holds a run already; add --resume to continue it, or pick another folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    history_path = out / "history.jsonl"
    _truncate_history(history_path, state["step"] if state else 0)

    bar = None if args.json else _progress_bar(config, state["step"] if state else 0)
    with history_path.open("a") as history:
        def report(metrics: dict[str, float], run_state: dict[str, Any] | None) -> None:
            history.write(json.dumps({"kind": "eval", **metrics}) + "\n")
            history.flush()
            if run_state is not None:
                checkpoint.save(run_state, out / CHECKPOINT)
            if bar is not None:
                shown = {k: v for k, v in metrics.items() if k in ("modes", "hq_fraction", "reverse_kl")}
                bar.write(f"step {int(metrics['step'])}: " + ", ".join(f"{k}={v:.4g}" for k, v in shown.items()))

        def progress(step: int, record: dict[str, float]) -> None:
            history.write(json.dumps({"kind": "train", "step": step, **record}) + "\n")
            if bar is not None:
                bar.update(step - bar.n)
                bar.set_postfix(d_loss=f"{record['d_loss']:.3f}", g_loss=f"{record['g_loss']:.3f}")

        try:
            result = run_training(config, report, resume=state, force=args.force, progress=progress)
        finally:
            if bar is not None:
                bar.close()
    result["out"] = str(out)
    result["cpu_kernels"] = args.cpu_kernels
    result["aten_capability"] = torch.backends.cpu.get_cpu_capability()
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    _plot(out, config)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_summary(result, out))
    return 0


def _truncate_history(path: Path, step: int) -> None:
    """On resume, drop records after the checkpoint so that no step is logged twice."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept) if step else "")


def _progress_bar(config: Config, initial: int) -> Any:
    label = f"{config.data.name} {config.loss.preset or config.loss.name}"
    return tqdm(total=config.train.steps, initial=initial, desc=label, unit="step", dynamic_ncols=True, file=sys.stderr)


def _plot(out: Path, config: Config) -> None:
    if not (out / CHECKPOINT).exists():
        return
    state = checkpoint.load(out / CHECKPOINT)
    generator = load_generator(state, config, "best")
    samples = draw(generator, config, config.eval.n_samples, seed=0)
    title = f"{config.data.name}, {config.loss.preset or config.loss.name}, step {state['best_step'] or state['step']}"
    save_samples(samples, dataset_of(config), out / "samples.png", title=title)


def _summary(result: dict[str, Any], out: Path) -> str:
    status = "DIVERGED" if result["diverged"] else "done"
    finals = {k[6:]: v for k, v in result.items() if k.startswith("final_") and k[6:] in
              ("modes", "hq_fraction", "reverse_kl")}
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in finals.items())
    return (f"{status}: {result['steps']} steps in {result['wall_time_s']:.1f}s on {result['device']} "
            f"({result['threads']} threads){'; final ' + metrics if metrics else ''}\n"
            f"wrote {out}/: config.yaml, history.jsonl, result.json, samples.png, {CHECKPOINT}")


def sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise GanbenchError(f"--n: must be >= 1, got {args.n}")
    state = checkpoint.load(_checkpoint_path(args))
    config = checkpoint.config_of(state)

    spec = DATASETS.get(config.data.name).spec(config)
    generator = load_generator(state, config, args.weights)
    drawn = draw(generator, config, args.n, args.seed, class_index=args.class_index)
    samples = to_export(drawn, spec)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, samples)
    print(f"wrote {out}: {samples.dtype} {'x'.join(map(str, samples.shape))}")
    if args.grid:

        if getattr(generator, "num_classes", 0) and args.class_index is None:
            save_class_grid(draw_per_class(generator, config, 10, args.seed), args.grid, title=config.data.name)
        else:
            save_samples(drawn, dataset_of(config), args.grid)
        print(f"wrote {args.grid}")
    return 0


def _checkpoint_path(args: argparse.Namespace) -> Path:
    """A local checkpoint file, or one pulled from MLflow (``--run-id ID`` or ``SWEEP:VALUE:best``)."""
    from ganbench.report.data import pull_checkpoint  # MLflow only for a checkpoint in a store
    from ganbench.tracking.store import default_tracking_uri  # MLflow: only the commands that use it

    reference = args.run_id or (args.checkpoint if args.checkpoint and not Path(args.checkpoint).exists()
                                and args.checkpoint.count(":") == 2 else None)
    if reference is None:
        if not args.checkpoint:
            raise GanbenchError("give a CHECKPOINT file, SWEEP:VALUE:best, or --run-id RUN_ID")
        return Path(args.checkpoint)
    return pull_checkpoint(reference, args.tracking_uri or default_tracking_uri(), Path(tempfile.mkdtemp()))


def listing() -> dict[str, Any]:
    table: dict[str, Any] = {}
    for family, registry in REGISTRIES.items():
        table[family] = {"key": registry.key, "entries": {
            name: {"description": getattr(cls, "description", "") or (cls.__doc__ or "").strip().split("\n")[0]}
            for name, cls in registry.items()}}
    for name, cls in REGISTRIES["datasets"].items():
        table["datasets"]["entries"][name]["defaults"] = cls.defaults
    table["config_keys"] = describe_keys()
    return table


def list_components(args: argparse.Namespace) -> int:
    table = listing()
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    keys = table.pop("config_keys")
    for family, block in table.items():
        # resolve takes a preset's name as loss.name too (sweeps compare `loss.name: [hinge, wgan_gp]`)
        also = "; a preset's name works too, see presets" if family == "losses" else ""
        print(f"{family} ({block['key']}{also}):")
        for name, entry in block["entries"].items():
            extra = f"  [model {entry['defaults'].get('model.name')}]" if "defaults" in entry else ""
            print(f"  {name:22s} {entry['description']}{extra}")
        print()
    print("config keys (--set KEY=VALUE):")
    for key, text in keys.items():
        print(f"  {key:26s} {text}")
    return 0


COMMANDS = {"train": train, "sample": sample, "list": list_components}


def extractor(args: argparse.Namespace) -> int:
    """``ganbench extractor train DATASET``: train a LeNet feature extractor on the domain, deterministically."""
    name = f"lenet_{args.dataset}"
    if name not in EXTRACTORS:
        choices = sorted(spec.train_dataset for spec in EXTRACTORS.values() if spec.train_dataset)
        raise GanbenchError(f"extractor train: no extractor for dataset {args.dataset!r}; available: {', '.join(choices)}")
    config = load_config(overrides=[f"data.name={args.dataset}"])
    dataset = DATASETS.get(args.dataset)(config)
    dataset.check_available()
    model, record = train_lenet(dataset.load("train"), dataset.load("test"), epochs=args.epochs, progress=not args.quiet)
    record["dataset"] = args.dataset
    path = Path(args.out) if args.out else EXTRACTORS[name].weights_path()

    checkpoint.save({"state_dict": model.state_dict(), "record": record}, path)
    path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{name}: test accuracy {record['test_accuracy']:.4f} on {record['test_samples']} held-out images; "
          f"sha256 {record['sha256'][:12]}; wrote {path} ({path.stat().st_size // 1024} KB, torch {torch.__version__})")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``ganbench evaluate CHECKPOINT``: final-evaluation metrics of a saved generator (fresh noise, held-out split)."""
    state = checkpoint.load(_checkpoint_path(args))
    config = checkpoint.config_of(state)
    # The same final evaluation a sweep's final-stage trial runs, with the same noise unless --seed says otherwise.
    final = final_evaluation(state, config, weights=args.weights, metrics=tuple(args.metrics) if args.metrics else None,
                             n_samples=args.n, split=args.split, noise_seed=args.seed,
                             device=resolve_device(config.device))
    scores = final.scores
    result = {"checkpoint": str(args.checkpoint), "weights": args.weights, "step": state["step"],
              "metrics": scores, "protocol": final.protocol, "unavailable": final.unavailable,
              "noise_seed": final.noise_seed}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for key, value in scores.items():
        print(f"{key:28s} {value:.6g}")
    for name, protocol in result["protocol"].items():
        print(f"protocol {name}: " + ", ".join(f"{k}={v}" for k, v in protocol.items()))
    for name, reason in final.unavailable.items():
        print(f"{name}: unavailable: {reason}")
    return 0


def sweep(args: argparse.Namespace) -> int:
    from ganbench.sweep.driver import SweepOptions, run  # Ray, Tune and MLflow: sweeps only

    code = run(SweepOptions(file=args.file, name=args.name, resume=args.resume, plan=args.plan, address=args.address,
                            tracking_uri=args.tracking_uri, storage=args.storage, max_concurrent=args.max_concurrent,
                            budget=args.budget, optuna_storage=args.optuna_storage, overrides=tuple(args.overrides)))
    if args.plan and code == 0:  # after the plan, so that a refused sweep still ends in its one error line
        _plan_notes(args)
    return code


def _plan_notes(args: argparse.Namespace) -> None:
    """Below the plan: what the command-line overrides change (stdout), and a warning per study whose seeds are too
    few for the report to rank (stderr; the plan stands)."""
    from ganbench.report.stats import MIN_RANKED_SEEDS, too_few_seeds  # the report's own rule (scipy): only for a plan
    from ganbench.sweep.spec import load_sweep, override_lines  # (as the driver above)

    sweep = load_sweep(args.file, args.budget, tuple(args.overrides))
    for line in override_lines(sweep):
        print(line)
    for study in sweep.studies:
        if too_few_seeds(study.seeds):
            print(f"ganbench: warning: study {study.name}: seeds {study.seeds} is below {MIN_RANKED_SEEDS}: the "
                  f"report cannot rank its values or test their differences; set seeds: {MIN_RANKED_SEEDS} or more",
                  file=sys.stderr)


def reproduce(args: argparse.Namespace) -> int:
    from ganbench.sweep.benchmarks import ReproduceOptions  # Ray, Tune and MLflow: sweeps only
    from ganbench.sweep.benchmarks import reproduce as run_benchmark  # (as above)

    return run_benchmark(ReproduceOptions(benchmark=args.benchmark, budget=args.budget, dry_run=args.dry_run,
                                          out=args.out, address=args.address, tracking_uri=args.tracking_uri,
                                          storage=args.storage, max_concurrent=args.max_concurrent,
                                          sweep_name=args.name, optuna_storage=args.optuna_storage,
                                          overrides=tuple(args.overrides)))


def report(args: argparse.Namespace) -> int:
    from ganbench.report.build import build_report  # MLflow, scipy, matplotlib: reports only
    from ganbench.tracking.store import default_tracking_uri  # MLflow: only the commands that use it

    uri = args.tracking_uri or default_tracking_uri()
    built = build_report(args.sweep, uri, Path(args.out or f"reports/{args.sweep}"))
    print(f"wrote {built.folder}/: README.md (leaderboard), index.html, plots, results.csv\n"
          f"logged to MLflow: the sweep's parent run {built.run_id} (artifacts under report/, and its description)\n"
          f"  browse: {built.browse(uri)}")
    return 0


COMMANDS.update({"extractor": extractor, "evaluate": evaluate, "sweep": sweep, "report": report,
                 "reproduce": reproduce})
