"""Where a sweep's numbers came from, recorded on its parent run at sweep time: the machine fingerprint that
decides their digits, the code commit, the sweep file's hash and where the sweep's stores were.

What decides the digits of a CPU result (measured in ``reports/perf/cpu_repro.json``): the kernels ATen picks for
the instruction set (``torch.backends.cpu.get_cpu_capability``, lowered by ``ATEN_CPU_CAPABILITY``), the code path
MKL picks (``MKL_CBWR`` and friends), the torch and BLAS builds, and the thread count. The reproducibility mode is
``ATEN_CPU_CAPABILITY=default`` with ``MKL_CBWR=COMPATIBLE``: under it that file measured identical weights under
two instruction-set settings.

The fingerprint is the *driver's* machine, taken in the driver's process. A local Ray's workers inherit the
driver's environment; a cluster's run on their own nodes (each trial's ``host`` tag names it), with the mode's
variables passed on by the driver.

Every driver start (a first start and each ``--resume``) adds an entry to ``origin/origins.json`` on the parent
run, so a sweep resumed on another machine says so; the parent's ``ganbench.origin.*`` tags hold the latest, as
columns for MLflow's runs view.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganbench.tracking.store import Tracker

ARTIFACT_FOLDER = "origin"
ARTIFACT = f"{ARTIFACT_FOLDER}/origins.json"
TAG_PREFIX = "ganbench.origin."
# The variables that change what torch, MKL and oneDNN compute (or on how many threads), as the trials see them.
NUMERIC_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA",
               "DNNL_MAX_CPU_ISA", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GLIBC_TUNABLES")
REPRODUCIBLE_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
# The instruction-set extensions that change which kernels run; the rest of /proc/cpuinfo's flags do not.
SIMD_FLAG = re.compile(r"^(sse\d?|ssse3|sse4_\d|sse4a|avx\w*|fma4?|f16c|amx\w*)$")
UNKNOWN = "unknown"


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _build_fact(pattern: str) -> str:
    """The first group of ``pattern`` in torch's build configuration; "" when the build does not say."""
    found = re.search(pattern, torch.__config__.show())
    return found.group(1) if found else ""


def reproducible_mode(env: dict[str, str]) -> bool:
    """Whether ``env`` selects the reproducibility mode (ATen's default kernels and MKL's compatible code path)."""
    return all(env.get(key, "").lower() == value.lower() for key, value in REPRODUCIBLE_ENV.items())


def machine_fingerprint(threads_per_trial: dict[str, int]) -> dict[str, Any]:
    """What decides a CPU result's digits on this machine: CPU model and SIMD flags, torch and its BLAS, the ATen
    capability in use, the threads each study's trials run on, and whether the reproducibility mode is on."""
    cpu = _cpuinfo()
    env = {key: os.environ[key] for key in NUMERIC_ENV if key in os.environ}
    return {
        "cpu_model": cpu.get("model name") or platform.processor() or UNKNOWN,
        "cpu_vendor": cpu.get("vendor_id", UNKNOWN),
        "simd_flags": sorted(f for f in cpu.get("flags", "").split() if SIMD_FLAG.match(f)),
        "logical_cpus": os.cpu_count(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "blas": _build_fact(r"BLAS_INFO=([^,\s]*)") or UNKNOWN,
        "mkl": _build_fact(r"Math Kernel Library Version ([\w.]+)") if torch.backends.mkl.is_available() else "",
        "onednn": _build_fact(r"MKL-DNN (v[\d.]+)"),
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "threads_per_trial": dict(threads_per_trial),
        "env": env,
        "reproducible_mode": reproducible_mode(env),
        "glibc": " ".join(platform.libc_ver()).strip() or UNKNOWN,
        "python": platform.python_version(),
    }


def code_commit(root: Path | None = None) -> str:
    """The git commit of the ganbench code in use, with ``-dirty`` when tracked files differ from it; ``unknown``
    outside a git checkout (an installed wheel) or without git."""
    root = root or Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return UNKNOWN
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                                  timeout=20).stdout.strip()

        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return f"{commit}-dirty" if dirty else commit


def sweep_origin(sweep_text: str, sweep_file: str, tracking_uri: str, storage: str,
                 threads_per_trial: dict[str, int]) -> dict[str, Any]:
    """Everything a report needs to say what it was built from, as the driver sees it now."""
    return {"started": time.time(), "sweep_file": sweep_file,
            "sweep_file_sha256": hashlib.sha256(sweep_text.encode()).hexdigest(),
            "code_commit": code_commit(), "tracking_uri": tracking_uri, "storage": storage,
            "ganbench_home": str(Path(os.environ.get("GANBENCH_HOME") or "~/.cache/ganbench").expanduser().resolve()),
            "machine": machine_fingerprint(threads_per_trial)}


def origin_tags(origin: dict[str, Any]) -> dict[str, str]:
    """The few facts a runs view should show as columns (the whole record is the artifact)."""
    machine = origin["machine"]
    return {f"{TAG_PREFIX}code_commit": origin["code_commit"],
            f"{TAG_PREFIX}sweep_file_sha256": origin["sweep_file_sha256"],
            f"{TAG_PREFIX}storage": origin["storage"],
            f"{TAG_PREFIX}cpu": machine["cpu_model"],
            f"{TAG_PREFIX}aten_capability": machine["aten_capability"],
            f"{TAG_PREFIX}blas": f"{machine['blas']} {machine['mkl']}".strip(),
            f"{TAG_PREFIX}torch": machine["torch"],
            f"{TAG_PREFIX}reproducible_mode": "on" if machine["reproducible_mode"] else "off"}


def read_origins(tracker: Tracker, run_id: str) -> list[dict[str, Any]]:
    """Every driver start's origin, oldest first; [] for a sweep run before origins were recorded."""
    if ARTIFACT not in tracker.artifact_paths(run_id, ARTIFACT_FOLDER):
        return []
    with tempfile.TemporaryDirectory() as folder:
        return json.loads(tracker.download(run_id, ARTIFACT, folder).read_text())


def record_origin(tracker: Tracker, run_id: str, origin: dict[str, Any]) -> list[dict[str, Any]]:
    """Add this driver start's origin to the parent run (its artifact and tags); returns every origin so far.
    Called by the driver, which holds the sweep's lease, so no two writers race on the artifact."""
    origins = [*read_origins(tracker, run_id), origin]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(ARTIFACT).name
        path.write_text(json.dumps(origins, indent=2, default=str))
        tracker.log_artifact(run_id, path, ARTIFACT_FOLDER)
    tracker.set_tags(run_id, origin_tags(origin))
    return origins
