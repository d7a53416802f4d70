"""reports/scripts/gpu_pacgan_table1.py: its sweep files carry PacGAN's protocol, and a tiny run on the CPU goes
through sweep, report and the table beside the paper's (the GPU run differs only in --steps, --seeds, --gpu)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from ganbench.sweep.spec import load_sweep
from tests import infra

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("gpu_pacgan_table1", ROOT / "reports" / "scripts" / "gpu_pacgan_table1.py")
script = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(script)


@pytest.mark.parametrize("dataset", ["ring8", "grid25"])
def test_the_sweep_file_is_pacgans_protocol_at_full_length_without_search(tmp_path, dataset):
    import yaml

    tree = script.sweep_file(dataset, steps=400_000, seeds=10, packs=[1, 2, 4], gpu=0.25, cpus=1)
    path = tmp_path / "table1.yaml"
    path.write_text(yaml.safe_dump(tree))
    study = load_sweep(path).studies[0]
    assert [study.label(v) for v in study.values()] == ["non_saturating,1", "non_saturating,2", "non_saturating,4"]
    assert (study.num_samples, study.seeds, study.steps, study.gpu) == (0, 10, 400_000, 0.25)
    config = study.reference_config()
    assert {key: config[key] for key in ("model.init", "model.pack_mode", "train.update", "model.bn_eps",
                                         "model.bn_momentum", "eval.bn_reestimate_batches", "optim.lr_g",
                                         "optim.beta1", "train.batch_size", "eval.n_samples")} == {
        "model.init": "normal_0.02", "model.pack_mode": "pacgan", "train.update": "simultaneous", "model.bn_eps": 1e-4,
        "model.bn_momentum": 0.05, "eval.bn_reestimate_batches": 50, "optim.lr_g": 1e-4, "optim.beta1": 0.8,
        "train.batch_size": 100, "eval.n_samples": 2500}
    assert {(ref["value"], ref["metric"]) for ref in tree["reference"]} == {
        (f"non_saturating,{p}", m) for p in (1, 2, 4) for m in ("modes", "hq_fraction", "reverse_kl")}


@pytest.mark.slow
def test_a_tiny_cpu_run_prints_the_table_beside_the_papers(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAY_TMPDIR", str(infra.short_tmp("rg")))
    for key, value in infra.RAY_ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "GANBENCH_HOME"):
        monkeypatch.delenv(key, raising=False)
    try:
        # One dataset: the other's sweep file is checked above, and the run is the same code.
        assert script.main(["--steps", "40", "--seeds", "1", "--gpu", "0", "--datasets", "ring8",
                            "--out", str(tmp_path)]) == 0
    finally:
        infra.kill_pids(infra.mentioning(str(tmp_path)))
    out = capsys.readouterr().out
    rows = re.findall(r"^  (non_saturating,\d) +(modes|hq_fraction|reverse_kl) +(\S+) ± \S+ \(n=1\) +(.+)$", out,
                      re.MULTILINE)
    assert len(rows) == 3 * 3, out
    papers = {(v, m, paper.strip()) for v, m, _, paper in rows}
    assert {("non_saturating,1", "modes", "6.3 ± 0.5"), ("non_saturating,2", "modes", "7.9 ± 0.1"),
            ("non_saturating,4", "reverse_kl", "0.07 ± 0.02")} <= papers
