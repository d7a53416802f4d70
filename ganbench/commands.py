"""What the CLI's subcommands do (imported only after parsing, since it pulls in torch)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ganbench import checkpoint
from ganbench.config import Config, describe_keys, load_config, to_dict
from ganbench.errors import GanbenchError

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
    from ganbench.data import DATASETS
    from ganbench.train import train as run_training

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
    from tqdm import tqdm

    label = f"{config.data.name} {config.loss.preset or config.loss.name}"
    return tqdm(total=config.train.steps, initial=initial, desc=label, unit="step", dynamic_ncols=True, file=sys.stderr)


def _plot(out: Path, config: Config) -> None:
    from ganbench.plots import save_samples
    from ganbench.sampling import dataset_of, draw, load_generator

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
    import numpy as np

    from ganbench.sampling import draw, load_generator, to_export

    if args.n < 1:
        raise GanbenchError(f"--n: must be >= 1, got {args.n}")
    state = checkpoint.load(args.checkpoint)
    config = checkpoint.config_of(state)
    from ganbench.data import DATASETS

    spec = DATASETS.get(config.data.name).spec(config)
    samples = to_export(draw(load_generator(state, config, args.weights), config, args.n, args.seed), spec)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, samples)
    print(f"wrote {out}: {samples.dtype} {'x'.join(map(str, samples.shape))}")
    return 0


def listing() -> dict[str, Any]:
    from ganbench.components import REGISTRIES

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
        print(f"{family} ({block['key']}):")
        for name, entry in block["entries"].items():
            extra = f"  [model {entry['defaults'].get('model.name')}]" if "defaults" in entry else ""
            print(f"  {name:22s} {entry['description']}{extra}")
        print()
    print("config keys (--set KEY=VALUE):")
    for key, text in keys.items():
        print(f"  {key:26s} {text}")
    return 0


COMMANDS = {"train": train, "sample": sample, "list": list_components}
