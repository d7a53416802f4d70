"""For whoever has a GPU: check, in under 5 minutes on one GPU, that trials share it and evaluate on it.

1. A sweep of 4 digits trials at ``resources.gpu: 0.25`` on a local Ray with that GPU: all 4 must run at once
   (their MLflow runs overlap in time) and record device ``cuda``.
2. One final evaluation of a trained checkpoint on the GPU against the same on the CPU: the scores agree
   (features are computed on the device, in bounded batches; the statistics on the CPU) and the GPU is faster.

    python reports/scripts/gpu_check.py            # prints what it measured; exits 1 if a check fails

This project's own machine has no GPU, so this script has not been run here; the CUDA tests
(``tests/metrics/test_device.py``) skip there for the same reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

SWEEP = """
study: gpu_check
metric: fid_lenet_digits
mode: min
fixed: {data.name: digits, train.steps: 600, eval.every: 200, eval.n_samples: 2000, eval.final_n_samples: 5000}
scientific: {loss.name: [non_saturating, hinge]}
nuisance: {optim.lr_g: {loguniform: [1.0e-4, 1.0e-3]}}
num_samples: 2
seeds: 0
scheduler: {name: none}
resources: {cpu: 0.5, gpu: 0.25}
"""


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to check (run this on a machine with a GPU)")
        return 0
    from mlflow import MlflowClient

    from ganbench.training import checkpoint
    from ganbench.training.final import final_evaluation

    failures = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        env = {**os.environ, "GANBENCH_HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0",
               "RAY_AUTH_MODE": "disabled"}  # a throwaway local Ray on this machine only
        (home / "gpu.yaml").write_text(SWEEP)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "ganbench", "sweep", str(home / "gpu.yaml"), "--name", "gpu"],
                              env=env, capture_output=True, text=True)
        sweep_s = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:])
            return 1
        client = MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("ganbench/gpu").experiment_id
        runs = [r for r in client.search_runs([experiment]) if r.data.tags.get("ganbench.kind") == "trial"]
        spans = sorted((r.info.start_time, r.info.end_time) for r in runs)
        overlap = max(0, min(end for _, end in spans) - max(start for start, _ in spans)) / 1000
        devices = sorted({r.data.tags.get("device", "?") for r in runs})
        print(f"sweep: {len(runs)} trials at gpu 0.25 in {sweep_s:.0f} s; all four overlapped for {overlap:.1f} s; "
              f"devices {devices}")
        if len(runs) != 4 or overlap <= 0:
            failures.append("the 4 quarter-GPU trials did not all run at once")

        path = Path(client.download_artifacts(runs[0].info.run_id, "checkpoint/checkpoint.pt", folder))
        state = checkpoint.load(path)
        config = checkpoint.config_of(state)
        timings, scores = {}, {}
        for device in ("cuda", "cpu"):
            final_evaluation(state, config, device=torch.device(device), n_samples=500)  # warm-up: extractor, caches
            started = time.perf_counter()
            scores[device] = final_evaluation(state, config, device=torch.device(device)).scores
            timings[device] = time.perf_counter() - started
        print(f"final evaluation, {config.eval.final_n_samples} samples: cuda {timings['cuda']:.2f} s, "
              f"cpu {timings['cpu']:.2f} s")
        print(json.dumps({"cuda": scores["cuda"], "cpu": scores["cpu"]}, indent=2))
        for key, value in scores["cpu"].items():
            if abs(scores["cuda"][key] - value) > 1e-3 * max(1.0, abs(value)):
                failures.append(f"{key}: cuda {scores['cuda'][key]:.6g} vs cpu {value:.6g}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
