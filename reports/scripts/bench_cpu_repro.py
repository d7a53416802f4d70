"""What makes ganbench's CPU numbers differ between x86 machines, and what a mode that does not depend on the
instruction set costs (issue 23, item 5). For reports/perf/cpu_repro.json.

    nice -n 5 python reports/scripts/bench_cpu_repro.py                 # everything, ~20 min on 2 loaded cores
    nice -n 5 python reports/scripts/bench_cpu_repro.py --repeats 1 --seeds 1 --losses non_saturating   # a smoke run

Every run is a fresh ``python -c`` (the environment variables below are read when torch is imported), one at a
time, 1 thread unless the variant says otherwise. Each run trains the quickstart's config (ring8, 64-unit nets,
600 steps, eval every 150, seed 0, non-saturating loss) and records the final metrics and a SHA-256 of the final
generator's and discriminator's weights (captured by the report callback at the last evaluation).

Part 1, variants (interleaved: repeat r runs every variant once, in order), the cost as the median of
``wall_time_s / steps`` over the repeats, as a ratio to (a):
  a  native          no environment variable (ATen picks AVX512/AVX2 kernels, MKL its own code path)
  b  aten_default    ATEN_CPU_CAPABILITY=default (ATen's scalar/compiler-vectorised kernels)
  c  aten_avx2       ATEN_CPU_CAPABILITY=avx2
  d  aten_avx512     ATEN_CPU_CAPABILITY=avx512 (only if the CPU has it)
  e  mkl_cnr         MKL_CBWR=COMPATIBLE (MKL's conditional numerical reproducibility, SSE2-only code path)
  f  repro           ATEN_CPU_CAPABILITY=default + MKL_CBWR=COMPATIBLE
  g  repro_oldcpu    f, run as if on an older CPU: glibc told there is no AVX/AVX2/FMA/AVX512 (its libm
                     picks non-FMA exp/log/sin variants), MKL_ENABLE_INSTRUCTIONS=SSE4_2, ONEDNN_MAX_CPU_ISA=SSE41
  h  native_avx2cpu  a, run as if on an AVX2-only CPU: ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2,
                     glibc without AVX512
  i  repro_avx2cnr   ATEN_CPU_CAPABILITY=default + MKL_CBWR=AVX2 (a cheaper MKL branch; documented by Intel as
                     reproducible on Intel CPUs with AVX2 only)
  j  native_2thr     a with train.threads=2, against a at 1 thread (both at 150 steps, run once, not timed)
  k  repro_2thr      f with train.threads=2, against f at 1 thread (likewise)
Pairs that test the question "does the mode depend on the instruction set?" on one machine: f against g (the
repro mode under two instruction-set settings) and a against h (the native mode under two).

Part 3 (``timing``), the cost again, as process CPU time per step beside wall time: a, b, e, f, i interleaved,
``--timing-repeats`` rounds (the wall time of a shared machine swings twofold between runs).

Part 2, the quickstart's three losses (non_saturating, hinge, loss.preset=wgan_gp) at its fixed config with the
default learning rates, seeds 0..N-1, under the modes a, h, f, g: are the numbers a leaderboard is built from the
same under two instruction-set settings?

The machine fingerprint (CPU model and SIMD flags, glibc, torch, MKL and oneDNN versions, ATen's capability,
threads) is written beside the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "reports" / "perf" / "cpu_repro.json"
MARK = "CPU_REPRO_RESULT "

OLD_CPU = {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-AVX512F,-AVX512DQ,-AVX512BW,-AVX512VL",
           "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41", "DNNL_MAX_CPU_ISA": "SSE41"}
REPRO = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
VARIANTS: dict[str, dict[str, Any]] = {
    "a_native": {"env": {}},
    "b_aten_default": {"env": {"ATEN_CPU_CAPABILITY": "default"}},
    "c_aten_avx2": {"env": {"ATEN_CPU_CAPABILITY": "avx2"}},
    "d_aten_avx512": {"env": {"ATEN_CPU_CAPABILITY": "avx512"}, "needs": "avx512f"},
    "e_mkl_cnr": {"env": {"MKL_CBWR": "COMPATIBLE"}},
    "f_repro": {"env": REPRO},
    "g_repro_oldcpu": {"env": {**REPRO, **OLD_CPU}},
    "h_native_avx2cpu": {"env": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                                 "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512DQ,-AVX512BW,-AVX512VL"}},
    "i_repro_avx2cnr": {"env": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "AVX2"}},
    # Thread count: at 150 steps, once (two threads on a shared 2-core machine are not timed fairly), each against
    # its own 1-thread run at 150 steps.
    "a150_native_1thr": {"env": {}, "steps": 150, "once": True},
    "j150_native_2thr": {"env": {}, "threads": 2, "steps": 150, "once": True},
    "f150_repro_1thr": {"env": REPRO, "steps": 150, "once": True},
    "k150_repro_2thr": {"env": REPRO, "threads": 2, "steps": 150, "once": True},
}
TIMED = ("a_native", "b_aten_default", "e_mkl_cnr", "f_repro", "i_repro_avx2cnr")
LOSS_MODES = ("a_native", "h_native_avx2cpu", "f_repro", "g_repro_oldcpu")
LOSSES = {"non_saturating": {"loss.name": "non_saturating"}, "hinge": {"loss.name": "hinge"},
          "wgan_gp": {"loss.preset": "wgan_gp"}}
# Every variable that can change what these libraries compute; cleared from the parent's environment first.
CONTROLLED = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
              "GLIBC_TUNABLES", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "MKL_VERBOSE", "ONEDNN_VERBOSE",
              "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")

WORKER = r"""
import hashlib, json, sys, time
started = time.perf_counter()
import torch
from ganbench.config import resolve
from ganbench.training.loop import train
overrides = json.loads(sys.argv[1])
captured = {}
def report(metrics, state):
    if state is not None:
        for net in ("generator", "discriminator"):
            digest = hashlib.sha256()
            for name, tensor in sorted(state[net].items()):
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            captured[net] = digest.hexdigest()
        captured["step"] = metrics["step"]
cpu_started = time.process_time()
result = train(resolve(overrides), report)
cpu_s = time.process_time() - cpu_started
# Which CNR branch MKL took, from its verbose line for one matmul.
import io, os
r, w = os.pipe(); saved = os.dup(1); sys.stdout.flush(); os.dup2(w, 1)
with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
    torch.ones(64, 64) @ torch.ones(64, 64)
sys.stdout.flush(); os.dup2(saved, 1); os.close(w)
verbose = os.read(r, 65536).decode(errors="replace"); os.close(r)
cnr = [part[4:] for part in verbose.split() if part.startswith("CNR:")]
keys = ("final_modes", "final_reverse_kl", "final_hq_fraction", "steps", "wall_time_s", "threads", "diverged")
out = {k: result.get(k) for k in keys}
out.update(generator_sha256=captured.get("generator"), discriminator_sha256=captured.get("discriminator"),
           hashed_at_step=captured.get("step"), aten_capability=torch.backends.cpu.get_cpu_capability(),
           mkl_cnr=cnr[0] if cnr else None, process_s=time.perf_counter() - started, cpu_s=cpu_s)
print("CPU_REPRO_RESULT " + json.dumps(out))
"""


def base_config(seed: int, threads: int, loss: dict[str, str], steps: int) -> dict[str, Any]:
    return {"data.name": "ring8", "model.g_width": 64, "model.d_width": 64, "train.steps": steps,
            "eval.every": 150, "train.threads": threads, "seed": seed, "device": "cpu", **loss}


def run(variant: str, seed: int = 0, loss: str = "non_saturating", steps: int = 600) -> dict[str, Any]:
    spec = VARIANTS[variant]
    env = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    env.update(spec["env"])
    overrides = base_config(seed, spec.get("threads", 1), LOSSES[loss], spec.get("steps", steps))
    done = subprocess.run([sys.executable, "-c", WORKER, json.dumps(overrides)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode or not lines:
        raise RuntimeError(f"{variant} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][len(MARK):])
    result["step_ms"] = 1000 * result["wall_time_s"] / result["steps"]
    result["cpu_step_ms"] = 1000 * result["cpu_s"] / result["steps"]
    return result


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def fingerprint() -> dict[str, Any]:
    import torch

    flags = cpu_flags()
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    simd = sorted(f for f in flags if re.match(r"(sse|ssse|avx|fma|f16c|amx)", f))
    config = torch.__config__.show()
    pick = lambda pattern: next((m.group(0).strip() for m in [re.search(pattern, config)] if m), None)  # noqa: E731
    return {
        "cpu_model": model, "cpu_vendor": next((line.split(":", 1)[1].strip() for line in
                                                 Path("/proc/cpuinfo").read_text().splitlines()
                                                 if line.startswith("vendor_id")), None),
        "logical_cpus": os.cpu_count(), "simd_flags": simd, "glibc": " ".join(platform.libc_ver()),
        "kernel": platform.release(), "python": platform.python_version(), "torch": torch.__version__,
        "blas_line": pick(r"BLAS_INFO=[^,]*"), "mkl": pick(r"Intel\(R\) oneAPI Math Kernel Library[^\n]*"),
        "onednn": pick(r"Intel\(R\) MKL-DNN[^\n]*"), "cpu_capability_build": pick(r"CPU capability usage: \w+"),
        "aten_capability_native": torch.backends.cpu.get_cpu_capability(),
        "mkl_available": torch.backends.mkl.is_available(), "mkldnn_available": torch.backends.mkldnn.is_available(),
        "threads_default": torch.get_num_threads(),
    }


def same(results: list[dict[str, Any]]) -> bool:
    return len({(r["generator_sha256"], r["discriminator_sha256"]) for r in results}) == 1


def timing(repeats: int) -> dict[str, Any]:
    """Part 3: the cost, by process CPU time per step as well as wall time (the wall time of a shared machine swings
    twofold from run to run; the CPU time of a 1-thread run much less). Interleaved, ``repeats`` rounds."""
    cells: dict[str, list[dict[str, float]]] = {v: [] for v in TIMED}
    for repeat in range(repeats):
        for variant in TIMED:
            result = run(variant)
            cells[variant].append({"wall": result["step_ms"], "cpu": result["cpu_step_ms"]})
            print(f"[timing {repeat}] {variant:<18} wall {result['step_ms']:.2f} ms/step  cpu {result['cpu_step_ms']:.2f}",
                  flush=True)
    out: dict[str, Any] = {"repeats": repeats, "steps": 600, "variants": {}}
    base = {k: statistics.median(c[k] for c in cells["a_native"]) for k in ("wall", "cpu")}
    for variant, runs in cells.items():
        med = {k: statistics.median(c[k] for c in runs) for k in ("wall", "cpu")}
        out["variants"][variant] = {
            "wall_step_ms": [round(c["wall"], 3) for c in runs], "cpu_step_ms": [round(c["cpu"], 3) for c in runs],
            "median_wall_step_ms": round(med["wall"], 3), "median_cpu_step_ms": round(med["cpu"], 3),
            "wall_ratio_to_native": round(med["wall"] / base["wall"], 3),
            "cpu_ratio_to_native": round(med["cpu"] / base["cpu"], 3)}
        print(f"{variant:<18} median wall {med['wall']:.2f} ms/step ({med['wall'] / base['wall']:.2f}x)  "
              f"cpu {med['cpu']:.2f} ms/step ({med['cpu'] / base['cpu']:.2f}x)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per loss and mode in part 2")
    parser.add_argument("--losses", nargs="*", default=list(LOSSES))
    parser.add_argument("--skip-part2", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--timing-repeats", type=int, default=3)
    parser.add_argument("--only-timing", action="store_true",
                        help="run part 3 alone and merge it into an existing --out")
    options = parser.parse_args()
    if options.only_timing:
        data = json.loads(options.out.read_text())
        data["timing"] = timing(options.timing_repeats)
        options.out.write_text(json.dumps(data, indent=2) + "\n")
        print(f"timing merged into {options.out}")
        return
    started = time.perf_counter()
    machine = fingerprint()
    flags = cpu_flags()
    variants = [v for v, spec in VARIANTS.items() if spec.get("needs", "") in flags or "needs" not in spec]

    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for repeat in range(options.repeats):
        for variant in variants:
            if repeat and VARIANTS[variant].get("once"):
                continue
            result = run(variant)
            runs[variant].append(result)
            print(f"[{repeat}] {variant:<18} G {result['generator_sha256'][:12]} modes {result['final_modes']:.0f} "
                  f"rKL {result['final_reverse_kl']:.6f} hq {result['final_hq_fraction']:.4f} "
                  f"{result['step_ms']:.2f} ms/step aten={result['aten_capability']} cnr={result['mkl_cnr']}",
                  flush=True)
    native_ms = statistics.median(r["step_ms"] for r in runs["a_native"])
    classes: dict[str, list[str]] = {}
    table = {}
    for variant in variants:
        first = runs[variant][0]
        classes.setdefault(first["generator_sha256"] + first["discriminator_sha256"], []).append(variant)
        median_ms = statistics.median(r["step_ms"] for r in runs[variant])
        table[variant] = {
            "env": VARIANTS[variant]["env"], "threads": VARIANTS[variant].get("threads", 1),
            "aten_capability": first["aten_capability"], "mkl_cnr": first["mkl_cnr"],
            "generator_sha256": first["generator_sha256"], "discriminator_sha256": first["discriminator_sha256"],
            "repeats_identical": same(runs[variant]), "final_modes": first["final_modes"],
            "final_reverse_kl": first["final_reverse_kl"], "final_hq_fraction": first["final_hq_fraction"],
            "steps": first["steps"], "timed": not VARIANTS[variant].get("once"),
            "step_ms": [round(r["step_ms"], 3) for r in runs[variant]], "median_step_ms": round(median_ms, 3),
            "cost_ratio_to_native": round(median_ms / native_ms, 3) if not VARIANTS[variant].get("once") else None,
            "median_process_s": round(statistics.median(r["process_s"] for r in runs[variant]), 2)}
    groups = sorted(classes.values(), key=lambda g: variants.index(g[0]))
    for variant in variants:
        table[variant]["identical_group"] = next(i for i, g in enumerate(groups) if variant in g)
    print("\nvariant             group  modes  reverse_kl  hq_frac  ms/step  ratio")
    for variant, row in table.items():
        ratio = row["cost_ratio_to_native"] or float("nan")
        print(f"{variant:<20}{row['identical_group']:>5}  {row['final_modes']:>5.0f}  {row['final_reverse_kl']:>10.6f}"
              f"  {row['final_hq_fraction']:>7.4f}  {row['median_step_ms']:>7.2f}  {ratio:>5.2f}")
    print("bitwise-identical groups:", groups)

    part2: dict[str, Any] = {}
    if not options.skip_part2:
        for loss in options.losses:
            for seed in range(options.seeds):
                row = {}
                for mode in LOSS_MODES:  # interleaved per (loss, seed)
                    result = run(mode, seed=seed, loss=loss)
                    row[mode] = {k: result[k] for k in ("final_modes", "final_reverse_kl", "final_hq_fraction",
                                                         "generator_sha256", "step_ms")}
                pairs = {"f_repro==g_repro_oldcpu": row["f_repro"]["generator_sha256"]
                         == row["g_repro_oldcpu"]["generator_sha256"],
                         "a_native==h_native_avx2cpu": row["a_native"]["generator_sha256"]
                         == row["h_native_avx2cpu"]["generator_sha256"],
                         "a_native==f_repro": row["a_native"]["generator_sha256"] == row["f_repro"]["generator_sha256"]}
                part2[f"{loss}/seed{seed}"] = {"modes": row, "identical": pairs}
                print(f"{loss:<15} seed {seed}: " + "  ".join(
                    f"{m.split('_', 1)[0]}:{row[m]['final_modes']:.0f}/{row[m]['final_reverse_kl']:.4f}"
                    for m in LOSS_MODES) + "  " + " ".join(f"{k}={v}" for k, v in pairs.items()), flush=True)
        summary = {}
        for loss in options.losses:
            for mode in LOSS_MODES:
                cells = [part2[f"{loss}/seed{s}"]["modes"][mode] for s in range(options.seeds)]
                summary[f"{loss}/{mode}"] = {
                    "mean_modes": statistics.mean(c["final_modes"] for c in cells),
                    "mean_reverse_kl": statistics.mean(c["final_reverse_kl"] for c in cells),
                    "median_step_ms": statistics.median(c["step_ms"] for c in cells)}
        part2 = {"runs": part2, "summary": summary,
                 "all_f_equal_g": all(v["identical"]["f_repro==g_repro_oldcpu"] for v in part2.values()),
                 "all_a_equal_h": all(v["identical"]["a_native==h_native_avx2cpu"] for v in part2.values())}
        print("summary (mean over seeds):")
        for key, value in summary.items():
            print(f"  {key:<36} modes {value['mean_modes']:.2f}  rKL {value['mean_reverse_kl']:.4f}  "
                  f"{value['median_step_ms']:.2f} ms/step")
        print("repro mode identical under two ISA settings in every run:", part2["all_f_equal_g"],
              "| native mode:", part2["all_a_equal_h"])

    command = "nice -n 5 python reports/scripts/bench_cpu_repro.py" + (
        f" --repeats {options.repeats}" if options.repeats != 2 else "") + (
        f" --seeds {options.seeds}" if options.seeds != 2 else "") + (
        f" --losses {' '.join(options.losses)}" if options.losses != list(LOSSES) else "") + (
        " --skip-part2" if options.skip_part2 else "")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps({
        "command": command, "machine": machine, "config": base_config(0, 1, LOSSES["non_saturating"], 600),
        "variants": table, "identical_groups": groups, "losses": part2, "timing": timing(options.timing_repeats),
        "total_s": round(time.perf_counter() - started, 1)}, indent=2) + "\n")
    print(f"written to {options.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
