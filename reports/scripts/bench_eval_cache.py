"""Benchmark: a trial-sized evaluation with ganbench's warm real-side cache vs torch-fidelity recomputing both sides.

Generated side: ``--n-gen`` perturbed real digits (real digits drawn with replacement plus Gaussian pixel noise,
clamped to [-1, 1]; the content does not matter for timing). Real side: all 1,797 sklearn digits (split "all").
Both sides use the same extractor object (ganbench's ``lenet_digits`` LeNet, registered with torch-fidelity),
the same batch size, seed and metric set, 1 torch thread, 1 BLAS thread for numpy/scipy (threadpoolctl; numpy's
OpenBLAS otherwise uses every core, which under load makes np.cov erratic) and no DataLoader worker processes.

- ours (warm cache): the real side is computed once beforehand; timed = ``fidelity.extract`` of the generated
  samples + ``fidelity.scores``.
- torch-fidelity: timed = uint8 conversion of both sides + ``torch_fidelity.calculate_metrics`` (no cache).

Two metric sets: "trial" = eval.fidelity's default (FID + IS), the one the target applies to, and "full" =
FID, KID, IS, precision/recall (for information). Repetitions interleave ours and theirs; the ratio of each
repetition is ours / theirs. Target: the median ratio is within 10% (relative) of n_gen / (n_gen + n_real).

    python reports/scripts/bench_eval_cache.py
    python reports/scripts/bench_eval_cache.py --blas-threads 0 --sets trial   # numpy's default BLAS threads

Prints a table and writes ``reports/perf/eval_cache.json`` (``eval_cache_blas<n>.json`` with ``--blas-threads n``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch_fidelity
from threadpoolctl import threadpool_limits
from torch import Tensor
from torch.utils.data import Dataset

from ganbench.config import load_config
from ganbench.data import DATASETS
from ganbench.metrics import fidelity
from ganbench.metrics.real import real_side

EXTRACTOR = "lenet_digits"
TF_NAME = "ganbench-lenet-digits"  # the name the extractor is registered under in torch-fidelity
OUT_DIR = Path(__file__).resolve().parents[1] / "perf"
SETS: dict[str, tuple[str, ...]] = {"trial": ("fid", "is"), "full": ("fid", "kid", "is", "precision", "recall")}
TF_FLAGS = {"fid": "fid", "is": "isc", "kid": "kid", "precision": "prc", "recall": "prc"}
TOLERANCE = 0.10


class Images(Dataset):
    """uint8 3 x H x W images, one per item, as torch-fidelity expects of a Dataset input."""

    def __init__(self, images: Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index]


def register_extractor() -> None:
    """Register ganbench's LeNet (the very module ``fidelity.extract`` uses) under ``TF_NAME``."""
    lenet = fidelity.load_extractor(EXTRACTOR)[0].lenet

    class Registered(fidelity.LeNetFeatures):
        def __init__(self, name: str, features_list: list[str], **kwargs: Any) -> None:  # torch-fidelity's kwargs
            super().__init__(name, features_list, lenet)

    torch_fidelity.register_feature_extractor(TF_NAME, Registered)


def ours(fake_samples: Tensor, real: dict[str, Any], which: tuple[str, ...], seed: int) -> dict[str, float]:
    return fidelity.scores(fidelity.extract(EXTRACTOR, fake_samples), real, EXTRACTOR, seed=seed, which=which)


def theirs(fake_samples: Tensor, real_samples: Tensor, which: tuple[str, ...], seed: int) -> dict[str, float]:
    flags = {TF_FLAGS[name]: True for name in which}
    return torch_fidelity.calculate_metrics(
        input1=Images(fidelity.to_uint8_rgb(fake_samples)), input2=Images(fidelity.to_uint8_rgb(real_samples)),
        feature_extractor=TF_NAME, batch_size=fidelity.BATCH, rng_seed=seed, kid_subset_size=fidelity.KID_SUBSET_SIZE,
        kid_subsets=fidelity.KID_SUBSETS, prc_neighborhood=fidelity.PRC_NEIGHBORHOOD, cuda=False, cache=False,
        verbose=False, save_cpu_ram=True, **flags)  # save_cpu_ram: DataLoader num_workers=0


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-gen", type=int, default=2000, help="generated samples (eval.n_samples for digits)")
    parser.add_argument("--repeats", type=int, default=11, help="interleaved repetitions per metric set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blas-threads", type=int, default=1, help="numpy/scipy BLAS threads; 0: leave the default")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS), help="metric sets to time")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.blas_threads:
        threadpool_limits(args.blas_threads)  # numpy/scipy BLAS (np.cov, sqrtm, KID's kernels), 1 thread by default

    dataset = DATASETS.get("digits")(load_config(overrides=["data.name=digits"]))
    real_samples, _ = dataset.load("all")
    generator = torch.Generator().manual_seed(args.seed)
    picks = torch.randint(len(real_samples), (args.n_gen,), generator=generator)
    fake_samples = (real_samples[picks] + 0.3 * torch.randn(real_samples[picks].shape, generator=generator)).clamp(-1, 1)
    n_real = len(real_samples)
    target = args.n_gen / (args.n_gen + n_real)
    band = (target * (1 - TOLERANCE), target * (1 + TOLERANCE))

    register_extractor()
    cold_seconds, _ = timed(lambda: fidelity.real_statistics(fidelity.extract(EXTRACTOR, real_samples)["features"]))
    real = real_side(dataset, "all", EXTRACTOR, write=False)  # the warm cache: computed (or loaded) once, untimed

    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    for set_name, which in ((name, SETS[name]) for name in args.sets):
        mine, other = ours(fake_samples, real, which, args.seed), theirs(fake_samples, real_samples, which, args.seed)
        fid_ours, fid_theirs = mine[f"fid_{EXTRACTOR}"], other["frechet_inception_distance"]
        print(f"[{set_name}] FID ours {fid_ours:.9g}  torch-fidelity {fid_theirs:.9g}  "
              f"rel. diff {abs(fid_ours - fid_theirs) / fid_theirs:.2e}", flush=True)
        runs = []
        for i in range(args.repeats):
            t_ours, _ = timed(ours, fake_samples, real, which, args.seed)
            t_theirs, _ = timed(theirs, fake_samples, real_samples, which, args.seed)
            runs.append({"ours_s": t_ours, "theirs_s": t_theirs, "ratio": t_ours / t_theirs})
            print(f"[{set_name}] rep {i + 1:2d}: ours {t_ours:.4f} s  torch-fidelity {t_theirs:.4f} s  "
                  f"ratio {runs[-1]['ratio']:.3f}", flush=True)
        ratios = [r["ratio"] for r in runs]
        q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
        median_ratio = statistics.median(ratios)
        results[set_name] = {
            "metrics": list(which), "fid_ours": fid_ours, "fid_torch_fidelity": fid_theirs,
            "scores_ours": mine, "scores_torch_fidelity": other,
            "median_ours_s": statistics.median(r["ours_s"] for r in runs),
            "median_theirs_s": statistics.median(r["theirs_s"] for r in runs),
            "median_ratio": median_ratio, "ratio_iqr": [q1, q3], "met": band[0] <= median_ratio <= band[1],
            "runs": runs,
        }

    summary = {
        "n_gen": args.n_gen, "n_real": n_real, "extractor": EXTRACTOR, "batch_size": fidelity.BATCH, "threads": 1,
        "blas_threads": args.blas_threads or "default", "repeats": args.repeats, "seed": args.seed,
        "target": target, "target_band": band, "target_applies_to": "trial", "cold_real_side_s": cold_seconds,
        "sets": results, "load_before": load_before, "load_after": os.getloadavg(), "cpus": os.cpu_count(),
        "torch": torch.__version__, "torch_fidelity": torch_fidelity.__version__,
        "python": platform.python_version(), "command": " ".join(["python", *sys.argv]),
    }
    print(f"\n{'set':6s} {'ours s':>8s} {'t-f s':>8s} {'ratio (IQR)':>22s}  target {target:.3f} "
          f"({band[0]:.3f}-{band[1]:.3f})")
    for set_name, r in results.items():
        verdict = "met" if r["met"] else "NOT met"
        print(f"{set_name:6s} {r['median_ours_s']:8.4f} {r['median_theirs_s']:8.4f} {r['median_ratio']:8.3f} "
              f"({r['ratio_iqr'][0]:.3f}-{r['ratio_iqr'][1]:.3f})  {verdict}"
              f"{'' if set_name == 'trial' else ' (information only)'}")
    print(f"cold real side (extract + real_statistics, once): {cold_seconds:.4f} s\n"
          f"load average (1 min) before {load_before[0]:.2f}, after {summary['load_after'][0]:.2f}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / ("eval_cache.json" if args.blas_threads == 1 else f"eval_cache_blas{args.blas_threads}.json")
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
