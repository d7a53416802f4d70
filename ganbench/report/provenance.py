"""What a report was built from, so that a reader can trace any of its numbers to its runs and rerun it: the sweep
file and its hash, the code commit, where the MLflow store and ``--storage`` were, and the fingerprint of the
machine whose CPU decided the digits (recorded by the driver at sweep time: ``ganbench.tracking.origin``).

Locations are written so that a committed report holds no path of the machine that built it: under
``$GANBENCH_HOME`` as ``$GANBENCH_HOME/...``, under the working folder relative to it, elsewhere by file name only.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.report.data import SweepRecord
from ganbench.tracking.origin import REPRODUCIBLE_ENV, UNKNOWN, read_origins

# The instruction-set extensions a reader compares between machines (the full list is in the data).
KEY_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
             "amx_tile")
LOCAL_PATH = re.compile(r"^(?P<scheme>sqlite:///|file://)?(?P<path>/.*)$")


@dataclass(frozen=True)
class Provenance:
    data: dict[str, Any]   # plain, portable data (for a provenance.json beside the report)
    lines: list[str]       # the report's markdown section


def portable_location(location: str, ganbench_home: str = "", cwd: Path | None = None) -> str:
    """A store's location without the machine's own paths: ``$GANBENCH_HOME/...``, relative to ``cwd``, or
    ``<name>``; a URI of a server or an object store as it is."""
    match = LOCAL_PATH.match(location)
    if not match:
        return location
    scheme, path = match.group("scheme") or "", Path(match.group("path"))
    cwd = cwd or Path.cwd()
    if ganbench_home and path.is_relative_to(ganbench_home):
        return f"{scheme}$GANBENCH_HOME/{path.relative_to(ganbench_home)}"
    if path.is_relative_to(cwd):
        return f"{scheme}{path.relative_to(cwd)}"
    return f"{scheme}<{path.name}>"


def _sweep_file_sha256(record: SweepRecord) -> str:
    """The hash of the sweep file as the parent run holds it (stores written before origins were recorded)."""
    run_id = record.parent["run_id"]
    if "search_space/sweep.yaml" not in record.tracker.artifact_paths(run_id, "search_space"):
        return UNKNOWN
    with tempfile.TemporaryDirectory() as folder:
        text = record.tracker.download(run_id, "search_space/sweep.yaml", folder).read_text()
    return hashlib.sha256(text.encode()).hexdigest()


def _portable_origin(origin: dict[str, Any], cwd: Path) -> dict[str, Any]:
    home = origin.get("ganbench_home", "")
    return {**{k: v for k, v in origin.items() if k != "ganbench_home"},
            "sweep_file": portable_location(origin.get("sweep_file", ""), home, cwd),
            "tracking_uri": portable_location(origin.get("tracking_uri", ""), home, cwd),
            "storage": portable_location(origin.get("storage", ""), home, cwd)}


def digits_line(machine: dict[str, Any]) -> str:
    """Where this report's numbers reproduce digit for digit."""
    if machine.get("reproducible_mode"):
        mode = " ".join(f"{k}={v}" for k, v in REPRODUCIBLE_ENV.items())
        return (f"reproducibility mode **on** (`{mode}`): ATen's default kernels and MKL's compatible code path, "
                "measured to give identical weights under two instruction-set settings on one machine "
                "(`reports/perf/cpu_repro.json`), so the digits should hold on another x86 CPU given the same torch, "
                "BLAS and threads per trial.")
    return ("reproducibility mode **off**: ATen and MKL pick kernels for this CPU's instruction set, so the digits "
            "reproduce on a machine with the same SIMD flags, torch, BLAS and threads per trial; elsewhere the last "
            "digits differ and close rows may swap (run with "
            + " ".join(f"`{k}={v}`" for k, v in REPRODUCIBLE_ENV.items()) + " for numbers that do not depend on "
            "the CPU).")


def machine_line(machine: dict[str, Any]) -> str:
    """CPU, SIMD flags, torch and BLAS, ATen's kernels, threads and the numeric variables set: one sentence."""
    flags = [f for f in KEY_FLAGS if f in machine.get("simd_flags", [])]
    threads = sorted(set(machine.get("threads_per_trial", {}).values()))
    set_env = ", ".join(f"`{k}={v}`" for k, v in machine.get("env", {}).items())
    blas = machine.get("blas", UNKNOWN) + (f" {machine['mkl']}" if machine.get("mkl") else "")
    return (f"{machine.get('cpu_model', UNKNOWN)} ({machine.get('machine', '?')}, {machine.get('logical_cpus', '?')} "
            f"logical CPUs; {', '.join(flags) or 'no AVX'}), torch {machine.get('torch', UNKNOWN)} with BLAS {blas}"
            + (f" and oneDNN {machine['onednn']}" if machine.get("onednn") else "")
            + f"; ATen kernels in use: {machine.get('aten_capability', UNKNOWN)}; "
            f"{' or '.join(map(str, threads)) or '?'} thread(s) per trial" + (f"; set: {set_env}" if set_env else ""))


def provenance(record: SweepRecord, tracking_uri: str, cwd: Path | None = None) -> Provenance:
    """The provenance of the report built from ``record``, read from ``tracking_uri`` (as ``build_report`` has
    them): its markdown section and the same facts as data."""
    cwd = cwd or Path.cwd()
    run_id = record.parent["run_id"]
    tags = record.tracker.tags(run_id)
    recorded = read_origins(record.tracker, run_id)
    origins = [_portable_origin(o, cwd) for o in recorded]
    first, last = (origins[0], origins[-1]) if origins else ({}, {})
    params = record.parent["params"]
    home = recorded[-1].get("ganbench_home", "") if recorded else ""
    data = {
        "sweep": record.name, "sweep_file": first.get("sweep_file") or params.get("sweep_file", UNKNOWN),
        "sweep_file_sha256": first.get("sweep_file_sha256") or _sweep_file_sha256(record),
        "sweep_sha256": tags.get("sweep_sha256", UNKNOWN), "ganbench_version": params.get("ganbench", UNKNOWN),
        "code_commit": first.get("code_commit", UNKNOWN),
        "tracking_uri": first.get("tracking_uri", UNKNOWN), "storage": first.get("storage", UNKNOWN),
        "read_from": portable_location(tracking_uri, home, cwd),
        "experiment": record.tracker.experiment, "parent_run_id": run_id,
        "machine": last.get("machine", {}), "origins": origins,
    }
    store = f"MLflow `{data['tracking_uri']}`, experiment `{data['experiment']}`, parent run `{run_id}`"
    if not origins:
        return Provenance(data, [
            "## Provenance", "", f"- **Sweep file**: SHA-256 `{data['sweep_file_sha256']}`.",
            f"- **Store**: MLflow `{data['read_from']}`, experiment `{data['experiment']}`, parent run `{run_id}`.",
            "- **Code, `--storage` and machine**: not recorded (the sweep ran before ganbench recorded them), so the "
            "digits cannot be traced to a machine.", ""])
    commit = data["code_commit"]
    code = ("unknown (not run from a git checkout)" if commit == UNKNOWN else
            f"`{commit.removesuffix('-dirty')}`" + (" with uncommitted changes" if commit.endswith("-dirty") else ""))
    lines = ["## Provenance", "",
             f"- **Sweep file**: `{data['sweep_file']}`, SHA-256 `{data['sweep_file_sha256']}` (the file as run; "
             f"with its budget, overrides and the ganbench version the sweep's identity is `{data['sweep_sha256']}`).",
             f"- **Code**: ganbench {data['ganbench_version']}, commit {code}.",
             f"- **Store**: {store}"
             + (f" (this report read it at `{data['read_from']}`)" if data["read_from"] != data["tracking_uri"] else "")
             + f"; Ray Tune's experiments and the sweep's state under `{data['storage']}` (`--storage`).",
             f"- **Machine** (the driver's, whose CPU decides the digits): {machine_line(data['machine'])}.",
             f"- **Digits**: {digits_line(data['machine'])}"]
    others: list[dict[str, Any]] = []  # each other machine once, in the order the driver first ran there
    for machine in (o.get("machine", {}) for o in origins[:-1]):
        if machine != data["machine"] and machine not in others:
            others.append(machine)
    if others:
        lines.append(f"- **Resumed on another machine**: the driver started {len(origins)} times; before this "
                     f"machine on {'; on '.join(machine_line(m) for m in others)}.")
    return Provenance(data, [*lines, ""])
