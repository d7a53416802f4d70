"""What ``cpu_kernels: portable`` costs on the quickstart, and when its variables take effect (issue 23, item 5).
For reports/perf/cpu_kernels.json and the "Portable CPU kernels" section of reports/PERFORMANCE.md.

    nice -n 5 python reports/scripts/bench_cpu_kernels.py               # 3 rounds, ~12 min on 2 shared cores
    nice -n 5 python reports/scripts/bench_cpu_kernels.py --rounds 1 --skip-late

Part 1 (``late``): when do ATEN_CPU_CAPABILITY=default and MKL_CBWR=COMPATIBLE take effect? A fresh process sets them
at one of these moments, then trains ring8 for 150 steps (quickstart's nets, seed 0, 1 thread) and records ATen's
capability, MKL's CNR branch (from MKL's verbose line for one matmul) and a SHA-256 of the generator's weights:
  none               never
  before_import      before `import torch` (as if exported)
  after_import       after `import torch`
  after_cli_imports  after importing ganbench.cli.commands (everything `ganbench train` imports before it trains)
  after_first_op     after one matmul and one exp

Part 2 (``quickstart``): `ganbench sweep` on search_spaces/quickstart.yaml with `cpu_kernels: native` and with
`cpu_kernels: portable` (a copy of the file with that one line set), interleaved (round r runs native then portable,
alternating which goes first), each in a fresh GANBENCH_HOME and its own local Ray, wall time of the whole command.
Each run's leaderboard (final modes per value, from MLflow as the report reads it) is recorded beside its time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "reports" / "perf" / "cpu_kernels.json"
QUICKSTART = ROOT / "search_spaces" / "quickstart.yaml"
MARK = "CPU_KERNELS_RESULT "
MODES = ("native", "portable")
# Cleared from the parent's environment: each run's kernels come from the sweep file alone.
CONTROLLED = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
              "GLIBC_TUNABLES", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "RAY_ADDRESS", "MLFLOW_TRACKING_URI")

LATE = r"""
import hashlib, json, os, sys
when = sys.argv[1]
ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
if when == "before_import":
    os.environ.update(ENV)
import torch
if when == "after_import":
    os.environ.update(ENV)
if when == "after_cli_imports":
    import ganbench.cli.commands  # noqa: F401
    os.environ.update(ENV)
if when == "after_first_op":
    torch.ones(8, 8) @ torch.ones(8, 8)
    torch.ones(8).exp()
    os.environ.update(ENV)
from ganbench.config import resolve
from ganbench.training.loop import train
digest = {}
def report(metrics, state):
    if state is not None:
        h = hashlib.sha256()
        for name, tensor in sorted(state["generator"].items()):
            h.update(name.encode())
            h.update(tensor.detach().contiguous().numpy().tobytes())
        digest["generator"] = h.hexdigest()
result = train(resolve({"data.name": "ring8", "model.g_width": 64, "model.d_width": 64, "train.steps": 150,
                        "eval.every": 150, "train.threads": 1, "seed": 0}), report)
read, write = os.pipe(); saved = os.dup(1); sys.stdout.flush(); os.dup2(write, 1)
with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
    torch.ones(64, 64) @ torch.ones(64, 64)
sys.stdout.flush(); os.dup2(saved, 1); os.close(write)
verbose = os.read(read, 65536).decode(errors="replace")
cnr = [part[4:] for part in verbose.split() if part.startswith("CNR:")]
print("CPU_KERNELS_RESULT " + json.dumps({"aten_capability": torch.backends.cpu.get_cpu_capability(),
      "mkl_cnr": cnr[0] if cnr else None, "generator_sha256": digest["generator"],
      "final_reverse_kl": result["final_reverse_kl"]}))
"""

LEADERBOARD = r"""
import json, sys
from ganbench.report.data import load_sweep_record
from ganbench.report.leaderboard import leaderboard
record = load_sweep_record(sys.argv[1], sys.argv[2])
rows = {s.name: {r["value"]: {"mean": r["mean"], "finals": r["finals"]} for r in leaderboard(record, s)}
        for s in record.studies}
print("CPU_KERNELS_RESULT " + json.dumps(rows))
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    return {**env, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", **extra}


def result_of(done: subprocess.CompletedProcess) -> Any:
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode or not lines:
        raise RuntimeError(f"failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(MARK):])


def late() -> dict[str, Any]:
    out = {}
    for when in ("none", "before_import", "after_import", "after_cli_imports", "after_first_op"):
        out[when] = result_of(subprocess.run([sys.executable, "-c", LATE, when], env=clean_env(), cwd=ROOT,
                                             capture_output=True, text=True, check=False))
        print(f"late {when:<18} aten={out[when]['aten_capability']:<8} cnr={out[when]['mkl_cnr']:<11} "
              f"G {out[when]['generator_sha256'][:12]}", flush=True)
    return out


def sweep_file(mode: str, folder: Path) -> Path:
    """The quickstart with `cpu_kernels: MODE` as its first key (any line the file has already is replaced)."""
    text = re.sub(r"(?m)^cpu_kernels:.*\n", "", QUICKSTART.read_text())
    path = folder / mode / "quickstart.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(f"cpu_kernels: {mode}\n{text}")
    return path


def quickstart(mode: str, round_: int, folder: Path) -> dict[str, Any]:
    home = folder / f"home-{mode}-{round_}"
    ray_tmp = Path(tempfile.mkdtemp(prefix="rayck", dir="/tmp"))  # Ray's socket paths must stay short
    env = clean_env(GANBENCH_HOME=str(home), RAY_TMPDIR=str(ray_tmp))
    name = f"quickstart-{mode}"
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", str(sweep_file(mode, folder / str(round_))),
                                "--name", name], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever of its Ray outlived it (its own session only)
    except ProcessLookupError:
        pass
    shutil.rmtree(ray_tmp, ignore_errors=True)
    if process.returncode:
        raise RuntimeError(f"{mode} sweep failed ({process.returncode}):\n{output[-3000:]}")
    uri = f"sqlite:///{home}/mlflow/mlflow.db"
    board = result_of(subprocess.run([sys.executable, "-c", LEADERBOARD, name, uri], env=env, cwd=ROOT,
                                     capture_output=True, text=True, check=False))
    means = {value: row["mean"] for study in board.values() for value, row in study.items()}
    print(f"round {round_} {mode:<8} {wall:6.1f} s (load {load:.2f}) leaderboard "
          + ", ".join(f"{v} {m:.1f}" for v, m in means.items()), flush=True)
    return {"wall_s": round(wall, 1), "load_before": round(load, 2), "leaderboard": board}


def same_board(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """The same seeds' numbers per value (the report lists a value's finals in the order its trials ended)."""
    def key(board: dict[str, Any]) -> dict[str, Any]:
        return {study: {value: sorted(row["finals"]) for value, row in rows.items()} for study, rows in board.items()}
    return key(one) == key(other)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-late", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    options = parser.parse_args()
    began = time.perf_counter()
    data: dict[str, Any] = {"command": "nice -n 5 python reports/scripts/bench_cpu_kernels.py"
                            + (f" --rounds {options.rounds}" if options.rounds != 3 else ""),
                            "logical_cpus": os.cpu_count()}
    if not options.skip_late:
        data["late"] = late()
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="bench_cpu_kernels") as folder:
        for round_ in range(options.rounds):
            for mode in (MODES if round_ % 2 == 0 else MODES[::-1]):
                runs[mode].append(quickstart(mode, round_, Path(folder)))
    medians = {mode: statistics.median(r["wall_s"] for r in runs[mode]) for mode in MODES}
    data["quickstart"] = {
        "runs": runs, "median_wall_s": medians,
        "ratio_portable_to_native": round(medians["portable"] / medians["native"], 3),
        "per_round_ratio": [round(p["wall_s"] / n["wall_s"], 3) for n, p in zip(runs["native"], runs["portable"],
                                                                                  strict=True)],
        "leaderboards_identical_across_rounds": {
            mode: all(same_board(r["leaderboard"], runs[mode][0]["leaderboard"]) for r in runs[mode]) for mode in MODES}}
    data["total_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(data["quickstart"]["median_wall_s"]), "ratio", data["quickstart"]["ratio_portable_to_native"])
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"written to {options.out} in {data['total_s']:.0f} s")


if __name__ == "__main__":
    main()
