"""The ``ganbench`` command. Parsing lives here and imports nothing heavy: ``--help`` stays fast.

Bad input (unknown key or name, wrong type, out-of-range value, missing data, malformed YAML)
prints one line to stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ganbench import __version__
from ganbench.errors import GanbenchError
from ganbench.sweep.budgets import BUDGETS  # imports nothing: --help stays fast
from ganbench.sweep.cpu_kernels import CPU_KERNELS, DEFAULT_CPU_KERNELS  # (as above)

EXAMPLES = """\
examples:
  ganbench train                                  # ring8 with its documented defaults
  ganbench train --set data.name=digits --out runs/digits
  ganbench train my.yaml --set loss.name=wgan_gp --set train.steps=2000
  ganbench train --out runs/digits --resume       # continue an interrupted run
  ganbench sample runs/digits/checkpoint.pt --n 1000 --out digits.npy
  ganbench sweep search_spaces/quickstart.yaml    # compare losses under equal budgets (Ray + Optuna + ASHA)
  ganbench report quickstart                      # leaderboard from MLflow into reports/quickstart/
  ganbench reproduce ring8_pacgan                 # a published benchmark: sweep, report, verdicts
  ganbench evaluate runs/digits/checkpoint.pt     # FID/KID/IS/PR at final-evaluation size
  ganbench extractor train digits                 # (re)train the offline LeNet feature extractor
  ganbench list                                   # datasets, models, losses, penalties, ...
"""


def _add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train one GAN from a config", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a generator and a discriminator. The config starts from the dataset's documented "
                    "defaults (see `ganbench list`), then the YAML file, then --set overrides.",
        epilog="examples:\n  ganbench train data.name=grid25 loss.name=hinge\n"
               "  ganbench train search_spaces/train/digits.yaml optim.lr_g=1e-3\n"
               "  ganbench train --set data.name=digits --set loss.name=wgan_gp --set model.d_norm=layer\n"
               "writes to --out: config.yaml, history.jsonl, result.json, samples.png, checkpoint.pt")
    parser.add_argument("config", nargs="*", metavar="[CONFIG.yaml] [KEY=VALUE ...]",
                        help="a YAML file of config keys (nested or dotted) and/or dotted KEY=VALUE overrides, "
                             "Hydra-style; KEY=VALUE is the same as --set KEY=VALUE")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one dotted key, e.g. --set optim.lr_g=2e-4 (repeatable)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: runs/<data>-<loss>-<time>)")
    parser.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    parser.add_argument("--force", action="store_true", help="with --resume: accept a config that differs")
    parser.add_argument("--json", action="store_true", help="print result.json to stdout (no progress bar)")
    parser.add_argument("--cpu-kernels", choices=CPU_KERNELS, default=DEFAULT_CPU_KERNELS,
                        help="native (default): this CPU's fastest kernels; portable: the same digits on any x86 "
                             "machine with the same torch and MKL, slower (sets ATEN_CPU_CAPABILITY=default and "
                             "MKL_CBWR=COMPATIBLE, as a sweep file's `cpu_kernels: portable` does)")


def _add_checkpoint_source(parser: argparse.ArgumentParser) -> None:
    """Where `sample` and `evaluate` find a checkpoint, and which of its generators they use."""
    parser.add_argument("checkpoint", nargs="?", help="a checkpoint.pt, or SWEEP:VALUE:best to pull one from MLflow")
    parser.add_argument("--run-id", help="pull the checkpoint of this MLflow run instead of a file")
    parser.add_argument("--tracking-uri", help="MLflow store for --run-id / SWEEP:VALUE:best (default: ganbench's)")
    parser.add_argument("--weights", choices=("best", "final", "ema"), default="best",
                        help="which generator: the best by eval.select (default), the last, or the EMA copy")


def _add_sample(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sample", help="export samples from a checkpoint",
        description="Draw N samples from a saved generator into a .npy file: points as float32 N x D, "
                    "images as uint8 N x C x H x W.")
    _add_checkpoint_source(parser)
    parser.add_argument("--n", type=int, required=True, help="number of samples")
    parser.add_argument("--out", required=True, metavar="FILE.npy", help="where to write the array")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--class", dest="class_index", type=int, metavar="C",
                        help="conditional generators: draw only class C (default: every class equally)")
    parser.add_argument("--grid", metavar="FILE.png", help="also write a per-class grid (conditional) or sample plot")


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate", help="score a saved generator (final-evaluation protocol)",
        description="Evaluate a checkpoint at final-evaluation size: fresh noise, eval.final_n_samples samples, "
                    "against the held-out eval.final_split. Numbers carry their protocol (n_real, n_fake, split, "
                    "extractor, weights hash); metrics whose weights are missing are reported as unavailable.")
    _add_checkpoint_source(parser)
    parser.add_argument("--metrics", nargs="+", metavar="METRIC", help="e.g. lenet_digits inception (default: the run's)")
    parser.add_argument("--n", type=int, help="generated samples (default: eval.final_n_samples)")
    parser.add_argument("--split", help="real split to compare against (default: eval.final_split)")
    parser.add_argument("--seed", type=int, help="noise seed (default: the one a sweep's final-stage trial of this "
                                                  "checkpoint uses, seed + 7,777,777, so the numbers match its run)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _add_extractor(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "extractor", help="train an offline feature extractor (LeNet) for a dataset",
        description="Train a LeNet classifier on a dataset's training split, deterministically, and store its weights "
                    "with its held-out accuracy and hash: digits -> inside the package; mnist / fashion_mnist -> "
                    "the user cache ($GANBENCH_CACHE or ~/.cache/ganbench).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser("train", help="train lenet_<dataset>")
    train.add_argument("dataset", help="digits, mnist or fashion_mnist")
    train.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    train.add_argument("--out", help="weights file (default: where ganbench looks for them)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """Where a sweep runs and logs: the same four options for `sweep` and `reproduce`."""
    parser.add_argument("--address", help="an existing Ray cluster (default: $RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else an absolute sqlite "
                                               "file under $GANBENCH_HOME, default ~/.cache/ganbench)")
    parser.add_argument("--storage", help="Ray Tune's experiments and the sweep's state: an absolute path (shared "
                                          "on a cluster) or a URI (s3://...); default $GANBENCH_HOME/ray_results")
    parser.add_argument("--max-concurrent", type=int, help="at most K trials at once")
    parser.add_argument("--optuna-storage", metavar="URL",
                        help="Optuna RDB for every study (sqlite:////shared/optuna.db, postgresql://...); default: the "
                             "sweep file's searcher.storage, else sqlite beside the sweep state under --storage")


def _add_sweep(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sweep", help="run a sweep file on Ray Tune + Optuna + ASHA, tracked in MLflow",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare the sweep file's scientific values under equal budgets: each value gets its own Optuna "
                    "study and ASHA brackets and num_samples trials, then its best config is rerun over `seeds` "
                    "seeds with the full budget. Ray starts locally unless --address / RAY_ADDRESS names a cluster.",
        epilog="examples:\n  ganbench sweep search_spaces/quickstart.yaml --plan\n"
               "  ganbench sweep search_spaces/quickstart.yaml\n"
               "  ganbench sweep search_spaces/quickstart.yaml --resume          # after the driver was killed\n"
               "  ganbench sweep search_spaces/quickstart.yaml train.steps=2000  # override a fixed key\n"
               "  ganbench sweep my.yaml --address head:6379 --tracking-uri http://mlflow:5000 "
               "--storage s3://bucket/ganbench --optuna-storage postgresql://db/optuna")
    parser.add_argument("file", help="a sweep YAML file (see search_spaces/)")
    _add_fixed_overrides(parser)
    parser.add_argument("--name", help="sweep name (default: the file's stem); names MLflow's experiment")
    parser.add_argument("--resume", action="store_true", help="continue a killed sweep from the stage it was in")
    parser.add_argument("--plan", action="store_true", help="print trials, steps, resources and a time estimate; "
                                                             "start nothing")
    _add_cluster_options(parser)
    parser.add_argument("--budget", choices=BUDGETS,
                        help="benchmark files only: small = minutes here (default), medium = about an hour in the "
                             "background, paper = the published budget")


def _add_reproduce(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "reproduce", help="run a benchmark from search_spaces/benchmarks/, build its report, print the verdicts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a published benchmark's sweep (its data, model, training and evaluation protocol), build "
                    "its report under reports/benchmarks/NAME-BUDGET/ and print our numbers beside the published "
                    "ones with a verdict per row. It checks data files and metric weights first and says what to "
                    "provide if any are missing. A killed reproduce continues where it stopped when rerun.",
        epilog="examples:\n  ganbench reproduce ring8_pacgan --dry-run      # a few steps on fake data, seconds\n"
               "  ganbench reproduce ring8_pacgan                # this machine's budget (small)\n"
               "  ganbench reproduce mnist_lucic2018 --budget paper --address auto\n"
               "benchmarks: ring8_pacgan, grid25_pacgan, stacked_digits, digits_losses (offline); "
               "mnist_lucic2018, fashion_mnist_lucic2018 (need data and Inception weights); cifar10_* (GPU scale)")
    parser.add_argument("benchmark", help="a name in search_spaces/benchmarks/ (or a path to a benchmark file)")
    _add_fixed_overrides(parser)
    parser.add_argument("--budget", choices=BUDGETS,
                        help="small = minutes on a laptop (default), medium = about an hour in the background at a "
                             "fraction of the paper's steps, paper = the published budget")
    parser.add_argument("--dry-run", action="store_true",
                        help="swap in fake data of the same shape and train every compared value for a few steps")
    parser.add_argument("--out", help="report folder (default: reports/benchmarks/NAME-BUDGET)")
    parser.add_argument("--name", help="sweep name (default NAME-BUDGET); a new name starts afresh, e.g. after "
                                       "editing the benchmark file")
    _add_cluster_options(parser)


def _add_fixed_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("items", nargs="*", metavar="KEY=VALUE",
                        help="set a config key in every study's `fixed` block, e.g. train.steps=500 (Hydra-style; "
                             "the same as --set KEY=VALUE; before or after the options), checked like the file's "
                             "values; a key the study compares or tunes is refused (edit a copy of the file); part "
                             "of the sweep's identity, so --resume needs the same; --plan shows what each changes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="as KEY=VALUE above (repeatable)")


def _add_report(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report", help="build a sweep's leaderboard (markdown, HTML, plots, CSV) from MLflow",
        description="Read a sweep's runs from MLflow (nothing else) and write README.md (a leaderboard with its "
                    "protocol header, 95% t-intervals, Welch comparisons with the best row and the baseline, Holm-"
                    "adjusted; published numbers beside ours with a verdict and every protocol difference), "
                    "index.html, PNG plots and results.csv; and log them to the sweep's parent MLflow run.",
        epilog="examples:\n  ganbench report quickstart\n"
               "  ganbench report ring8_pacgan-medium --tracking-uri sqlite:////abs/path/mlflow.db --out reports/x",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", help="the sweep's name (its --name, default the sweep file's stem)")
    parser.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else ganbench's sqlite)")
    parser.add_argument("--out", help="output folder (default: reports/<sweep>)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganbench", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="GAN hyperparameter search and benchmarking: train one GAN, sample it, list components.",
        epilog=EXAMPLES)
    parser.add_argument("--version", action="version", version=f"ganbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(commands)
    _add_sample(commands)
    _add_sweep(commands)
    _add_report(commands)
    _add_reproduce(commands)
    _add_evaluate(commands)
    _add_extractor(commands)
    listing = commands.add_parser("list", help="list datasets, models, losses, penalties, presets, metrics, keys",
                                  description="Every registered component, with the config key that selects it.")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def split_config_items(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``train``'s positional items: at most one YAML file, the rest KEY=VALUE overrides (before any --set)."""
    files = [item for item in args.config if "=" not in item]
    if len(files) > 1:
        parser.error(f"train takes one config file, got {len(files)}: {' '.join(files)} (overrides are KEY=VALUE)")
    args.overrides = [item for item in args.config if "=" in item] + args.overrides
    args.config = files[0] if files else None


# The positional list each command's words after an option join (argparse fills a positional list only before the
# first option, and would call later words unrecognized arguments under the top-level usage).
TRAILING_ITEMS = {"train": "config", "sweep": "items", "reproduce": "items"}


def subcommand_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of one subcommand, so that its errors show its own usage."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[command]


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Arguments as typed, with ``KEY=VALUE`` (and train's config file) allowed after options too:
    ``ganbench sweep FILE --plan train.steps=500`` is the same as putting the override before ``--plan``."""
    args, extras = parser.parse_known_args(argv)
    if not extras:
        return args
    own = subcommand_parser(parser, args.command) if args.command else parser
    unknown = [item for item in extras if item.startswith("-") or args.command not in TRAILING_ITEMS]
    if unknown:
        own.error(f"unrecognized arguments: {' '.join(unknown)}")
    getattr(args, TRAILING_ITEMS[args.command]).extend(extras)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "train":
        split_config_items(parser, args)
    if args.command in ("sweep", "reproduce"):
        if bad := [item for item in args.items if "=" not in item]:
            subcommand_parser(parser, args.command).error(
                f"expected KEY=VALUE, got {' '.join(bad)} (overrides go after the file, before or after options)")
        args.overrides = args.items + args.overrides

    try:
        from ganbench.cli import commands  # torch and the rest: after parsing, so --help is fast

        return commands.COMMANDS[args.command](args)
    except GanbenchError as exc:
        print(f"ganbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
