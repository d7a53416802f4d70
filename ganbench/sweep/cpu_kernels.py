"""Which CPU kernels a run computes with: ``native`` (the fastest this CPU has) or ``portable`` (the same digits on
any x86 machine with the same torch and MKL builds).

What decides a CPU result's digits (``reports/perf/cpu_repro.json``): ATen picks its vectorised kernels by
instruction set (AVX512, AVX2 or the default ones), and MKL picks its SGEMM code path by CPU. ``portable`` pins both:
``ATEN_CPU_CAPABILITY=default`` and ``MKL_CBWR=COMPATIBLE``; under it that file measured bitwise-identical weights
under two instruction-set settings, and the quickstart's cost is in ``reports/PERFORMANCE.md``. The thread count
still counts (each trial runs on its ``resources.cpu``).

When the variables take effect (measured by ``reports/scripts/bench_cpu_kernels.py``): torch reads both at its
first operation, not at ``import torch`` (ATen fixes its capability at the first dispatch, MKL its code path at its
first call). Set after the import but before any operation, they act as if exported; set after one, they change
nothing. So ``use_cpu_kernels`` sets them, then checks that ATen took them (MKL has no public query; its first
call follows tensors that ATen filled), and refuses a process that already computed something.

Imports nothing heavy: sweep files are parsed without torch.
"""

from __future__ import annotations

import os
import sys

from ganbench.errors import GanbenchError

CPU_KERNELS = ("native", "portable")
DEFAULT_CPU_KERNELS = "native"
# What ``portable`` sets (tracking.origin's REPRODUCIBLE_ENV names the same, to detect the mode).
PORTABLE_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
PORTABLE_ATEN_CAPABILITY = "DEFAULT"  # what torch.backends.cpu.get_cpu_capability() says under it


def kernel_env(mode: str) -> dict[str, str]:
    """The environment variables ``mode`` sets in every process that computes (none for ``native``: the machine's
    own choice, or whatever the environment already says)."""
    return dict(PORTABLE_ENV) if mode == "portable" else {}


def export_hint() -> str:
    return "export " + " ".join(f"{key}={value}" for key, value in PORTABLE_ENV.items())


def use_cpu_kernels(mode: str, key: str) -> None:
    """Make this process compute with ``mode``'s kernels (processes it starts inherit them); ``key`` names the
    option in the error. Refuses, in one line, a process whose torch already ran an operation under other kernels:
    the variables would then change nothing (measured), and its numbers would not be ``portable``'s."""
    env = kernel_env(mode)
    if not env:
        return
    os.environ.update(env)
    if "torch" not in sys.modules:
        return  # read at the first operation, which is yet to come
    import torch  # already imported: only asking which kernels it settled on

    if torch.backends.cpu.get_cpu_capability() != PORTABLE_ATEN_CAPABILITY:
        raise GanbenchError(f"{key} portable: torch in this process already computed with its native kernels, "
                            f"which it cannot switch; {export_hint()} before starting Python")
