"""``cpu_kernels: portable``: the same leaderboard whatever instruction set the machine offers (issue 23, item 5).

One machine stands in for two: the sweep's driver (and so its local Ray and trials) runs once with this CPU's own
kernels and once told it is an AVX2 machine (ATen's AVX2 kernels, MKL limited to AVX2, glibc without AVX512).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from ganbench.cli.main import main
from ganbench.errors import GanbenchError
from ganbench.sweep import driver
from ganbench.sweep.cpu_kernels import PORTABLE_ENV, use_cpu_kernels
from ganbench.tracking.origin import REPRODUCIBLE_ENV
from tests.infra import ganbench_sweep, short_tmp, sweep_env

FILES = Path(__file__).resolve().parent / "files"
KERNELS = FILES / "kernels.yaml"
AVX2_MACHINE = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512DQ,-AVX512BW,-AVX512VL"}
SETTINGS = {"own": {}, "avx2": AVX2_MACHINE}
# Whatever the test process inherited would blur the two settings.
NUMERIC = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
           "GLIBC_TUNABLES")


@pytest.fixture
def kernel_env_restored(monkeypatch):
    """Neither variable set, and both as they were after the test (use_cpu_kernels writes os.environ)."""
    for key in PORTABLE_ENV:
        monkeypatch.setenv(key, "unset by the test")  # records the original value for the undo
        monkeypatch.delenv(key)


def test_the_mode_sets_what_the_fingerprint_detects():
    assert PORTABLE_ENV == REPRODUCIBLE_ENV


@pytest.mark.parametrize(("mode", "expected"), [("portable", PORTABLE_ENV), ("native", {})])
def test_the_mode_reaches_ray_s_runtime_env(mode, expected, kernel_env_restored, ganbench_home, tmp_path,
                                            monkeypatch):
    """The driver hands the sweep's kernels to Ray's runtime environment (every trial's process, on every node),
    from the file's option, not from whatever this process's environment holds."""
    sweep = tmp_path / "kernels.yaml"
    sweep.write_text(KERNELS.read_text().replace("cpu_kernels: portable", f"cpu_kernels: {mode}"))
    used, started = [], []

    class Stop(Exception):
        pass

    def start_ray(address, env, required=None):
        started.append((env, required))
        raise Stop

    monkeypatch.setattr(driver, "use_cpu_kernels", lambda chosen, key: used.append(chosen))
    monkeypatch.setattr(driver, "start_ray", start_ray)
    with pytest.raises(Stop):
        driver.run(driver.SweepOptions(file=str(sweep), name=f"kernels-{mode}", storage=str(tmp_path / "ray")))
    (env, required), = started
    assert used == [mode]
    assert {k: env[k] for k in PORTABLE_ENV if k in env} == expected
    assert required == expected
    assert env["GANBENCH_HOME"] == str(ganbench_home)  # beside the other ENV_KEYS, not instead of them


def test_a_running_ray_without_the_variables_is_refused(monkeypatch):
    import ray

    from ganbench.sweep.ray_cluster import init_ray

    class Context:
        runtime_env = {"env_vars": {"ATEN_CPU_CAPABILITY": "default"}}

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "get_runtime_context", lambda: Context())
    with pytest.raises(GanbenchError, match=r"already runs Ray without MKL_CBWR=COMPATIBLE in its runtime environment"):
        init_ray(None, PORTABLE_ENV, PORTABLE_ENV)


def test_a_process_that_already_computed_is_refused_in_one_line(kernel_env_restored, capsys):
    torch.ones(4).exp()  # this process's ATen has settled on its kernels (as any test run before this one may have)
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        pytest.skip("this process already runs ATen's default kernels")
    with pytest.raises(GanbenchError, match="already computed with its native kernels"):
        use_cpu_kernels("portable", "cpu_kernels")
    use_cpu_kernels("native", "cpu_kernels")  # native asks for nothing
    assert main(["train", "train.steps=2", "--cpu-kernels", "portable", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganbench: error: --cpu-kernels portable: ") and "\n" not in err
    assert err.endswith("export ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE before starting Python")


def test_set_after_import_torch_it_takes_effect_and_after_an_operation_it_is_refused():
    """Measured: torch reads both variables at its first operation (reports/perf/cpu_kernels.json, ``late``)."""
    env = {k: v for k, v in os.environ.items() if k not in NUMERIC}
    script = ("import sys, torch\n{}\nfrom ganbench.sweep.cpu_kernels import use_cpu_kernels\n"
              "use_cpu_kernels('portable', 'k')\nprint(torch.backends.cpu.get_cpu_capability())")
    fresh = subprocess.run([sys.executable, "-c", script.format("")], env=env, capture_output=True, text=True)
    assert fresh.returncode == 0 and fresh.stdout.split() == ["DEFAULT"], fresh.stderr
    late = subprocess.run([sys.executable, "-c", script.format("torch.ones(4).exp()")], env=env, capture_output=True,
                          text=True)
    assert late.returncode == 1 and "GanbenchError: k portable: torch in this process already computed" in late.stderr


def final_metrics(home: Path, name: str) -> tuple[dict[str, list[float]], dict[str, dict[str, float]], dict]:
    """The leaderboard as the report computes it (finals per value), every final trial's final_* metrics, and the
    parent's tags."""
    from mlflow import MlflowClient

    from ganbench.report.data import load_sweep_record
    from ganbench.report.leaderboard import leaderboard

    uri = f"sqlite:///{home}/mlflow/mlflow.db"
    record = load_sweep_record(name, uri)
    board = {row["value"]: row["finals"] for study in record.studies for row in leaderboard(record, study)}
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(f"ganbench/{name}")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    finals = {r.data.tags["value"]: {k: v for k, v in r.data.metrics.items() if k.startswith("final_")}
              for r in runs if r.data.tags.get("ganbench.kind") == "trial" and r.data.tags.get("stage") == "final"}
    parent, = [r for r in runs if r.data.tags.get("ganbench.kind") == "sweep"]
    return board, finals, {**parent.data.tags, **parent.data.params}


@pytest.mark.slow
def test_portable_sweeps_give_one_leaderboard_under_two_instruction_sets(tmp_path):
    native_file = tmp_path / "native" / "kernels.yaml"
    native_file.parent.mkdir()
    native_file.write_text(KERNELS.read_text().replace("cpu_kernels: portable", "cpu_kernels: native"))

    def sweep(mode: str, setting: str) -> tuple:
        home = tmp_path / f"{mode}-{setting}"
        env = {k: v for k, v in sweep_env(home, short_tmp("rayk")).items() if k not in NUMERIC}
        file = KERNELS if mode == "portable" else native_file
        done = ganbench_sweep([str(file), "--name", "kernels"], {**env, **SETTINGS[setting]},
                              tmp_path / f"{mode}-{setting}.log", timeout=240)
        assert done.returncode == 0, done.stdout[-3000:]
        return final_metrics(home, "kernels")

    # All four sweeps at once (2 trials each on 2 cores): their digits do not depend on timing or on sharing the
    # cores, and their start-ups (Ray, MLflow) overlap.
    with ThreadPoolExecutor(4) as pool:
        runs = {(mode, setting): pool.submit(sweep, mode, setting) for mode in ("portable", "native")
                for setting in SETTINGS}
        portable = {setting: runs["portable", setting].result() for setting in SETTINGS}
        native = {setting: runs["native", setting].result() for setting in SETTINGS}

    (board, finals, parent), (board_avx2, finals_avx2, _) = portable["own"], portable["avx2"]
    assert set(board) == {"non_saturating", "hinge"} and all(len(v) == 1 for v in board.values())
    assert board == board_avx2  # the leaderboard, digit for digit
    assert finals == finals_avx2 and len(finals["hinge"]) >= 5  # every final metric, losses included
    assert parent["cpu_kernels"] == "portable" and parent["ganbench.origin.reproducible_mode"] == "on"
    assert parent["ganbench.origin.aten_capability"] == "DEFAULT"

    # The comparison can fail: the kernels change these numbers (native is not portable's digits) ...
    assert native["own"][1] != finals
    assert native["own"][2]["ganbench.origin.reproducible_mode"] == "off"
    # ... and without the mode this CPU's own kernels and an AVX2 machine's disagree.
    if torch.backends.cpu.get_cpu_capability() == "AVX512":
        assert native["own"][1] != native["avx2"][1]


def test_the_plan_says_which_kernels_it_measured_with(ganbench_home, capsys):
    assert main(["sweep", str(FILES / "tiny.yaml"), "--plan"]) == 0
    assert capsys.readouterr().out.startswith("cpu kernels: native (this CPU's fastest; the digits depend on its "
                                              "instruction set)\n")
