"""Benchmark definitions: every one loads at every budget and dry-runs on fake data; the offline ones are
ready to run here; missing data or weights stop ``ganbench reproduce`` before anything starts; and a
CI-sized benchmark runs end to end into a report with verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ganbench.cli.main import main
from ganbench.config import resolve
from ganbench.errors import GanbenchError
from ganbench.sweep.benchmarks import available, dry_run_config, find
from ganbench.sweep.budgets import BUDGETS
from ganbench.sweep.driver import check_runnable
from ganbench.sweep.spec import load_sweep
from ganbench.sweep.state import SweepState, storage_root

BENCHMARKS = sorted(available())
OFFLINE = ["ring8_pacgan", "grid25_pacgan", "stacked_digits", "digits_losses"]
TINY = Path(__file__).resolve().parent / "files" / "tiny_benchmark.yaml"


def test_the_issue_s_benchmarks_are_all_defined():
    assert set(OFFLINE) | {"mnist_lucic2018", "fashion_mnist_lucic2018"} <= set(BENCHMARKS)
    assert any(name.startswith("cifar10_") for name in BENCHMARKS)


def budgets_of(name: str) -> list[str]:
    return [b for b in BUDGETS if b in yaml.safe_load(find(name).read_text())["benchmark"]["budgets"]]


# Every benchmark has this machine's budget and the paper's; a medium one (hours in the background) is optional.
@pytest.mark.parametrize(("name", "budget"), [(n, b) for n in BENCHMARKS for b in budgets_of(n)])
def test_every_benchmark_loads_at_every_budget_with_sourced_references(name, budget):
    assert {"small", "paper"} <= set(budgets_of(name))
    sweep = load_sweep(find(name), budget)
    assert sweep.budget == budget and sweep.benchmark["title"]
    for study in sweep.studies:
        assert study.seeds >= 3 and study.reference, study.name
        assert all(ref["source"] and ref["row"] for ref in study.reference)
    # Each budget is its own sweep: resuming one with another's file hash is refused.
    other = next(b for b in budgets_of(name) if b != budget)
    assert load_sweep(find(name), other).sha256 != sweep.sha256


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_dry_runs_on_fake_data(name, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_HOME", str(tmp_path))
    assert main(["reproduce", name, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"dry run of {name} (small budget) passed" in out
    assert not (tmp_path / "ray_results").exists() and not (tmp_path / "mlflow").exists()  # nothing was started


def test_dry_run_keeps_the_real_shape_and_model():
    study = load_sweep(find("stacked_digits")).studies[0]
    config = resolve(dry_run_config(study, study.values()[0]))
    assert config.data.name == "fake" and tuple(config.data.shape) == (3, 8, 8) and config.model.name == "dcgan"
    study = load_sweep(find("digits_losses")).studies[0]
    began = resolve(dry_run_config(study, {"loss.name": "began"}))
    assert began.model.name == "began" and began.loss.name == "boundary_equilibrium"


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_benchmarks_are_ready_here_with_ten_seeds(name):
    for study in load_sweep(find(name), "small").studies:
        check_runnable(study, {"CPU": 2.0})
        assert study.seeds >= 10


def test_digits_losses_is_lucic_s_design():
    study = load_sweep(find("digits_losses"), "small").studies[0]
    losses = [v["loss.name"] for v in study.values()]
    assert losses == ["minimax", "non_saturating", "least_squares", "wgan", "wgan_gp", "dragan", "began", "hinge",
                      "relativistic_average"]
    assert study.metric == "fid_lenet_digits" and study.baseline == "non_saturating"
    assert study.nuisance["optim.lr_g"].args == (1e-5, 1e-2) and study.nuisance["train.disc_steps"].args == (1, 5)
    assert study.space({"loss.name": "wgan"})["loss.clip_value"].args == (1e-3, 1.0)
    assert study.space({"loss.name": "wgan_gp"})["loss.penalty_weight"].args == (0.1, 100.0)
    assert "model.d_norm" not in study.space({"loss.name": "wgan_gp"})  # penalties assume no batch norm in D
    # An equal budget: the same trials, steps and seeds for every loss.
    steps = {resolve(study.config(v, {})).train.steps for v in study.values()}
    assert steps == {400} and study.sampler == "random" and study.scheduler == "none"


def test_missing_data_and_weights_stop_before_anything_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("GANBENCH_ALLOW_DOWNLOAD", raising=False)
    assert main(["reproduce", "mnist_lucic2018"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("ganbench: error: mnist_lucic2018 cannot run here: ")
    assert "MNIST/raw" in err and "train-images-idx3-ubyte" in err and "weights-inception-2015-12-05" in err
    assert not (tmp_path / "home").exists()


def test_unknown_benchmark_and_budget_errors_name_the_choices(capsys):
    assert main(["reproduce", "ring8_pacgna"]) == 2
    assert "did you mean 'ring8_pacgan'" in capsys.readouterr().err
    with pytest.raises(GanbenchError, match="--budget: .*is a sweep file"):
        load_sweep(Path(__file__).resolve().parent / "files" / "tiny.yaml", "small")


@pytest.mark.slow  # a whole sweep and its report end to end (~35 s)
def test_reproduce_runs_the_sweep_and_the_report_and_resumes(ray_local, ganbench_home, tmp_path, capsys):
    from mlflow import MlflowClient

    from ganbench.tracking.store import default_tracking_uri

    out = tmp_path / "report"
    assert main(["reproduce", str(TINY), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # the verdict table, then the baseline's answer; values named by their keys
    assert "| PacGAN Table 1 | PacGAN2 | loss.name=non_saturating, model.pack=2 | modes | 7.9 ± 0.1 |" in printed
    assert "Does any value beat `loss.name=non_saturating, model.pack=1`?" in printed
    report = (out / "README.md").read_text()
    assert "**small budget**" in report and "Packing on a small ring8" in report
    assert "context (VEEGAN is not implemented)" in report
    assert "### Does any value beat `loss.name=non_saturating, model.pack=1`?" in report and "3 final seeds" in report
    assert SweepState(storage_root(None), "tiny_benchmark-small").load() is not None
    client = MlflowClient(default_tracking_uri())
    experiment = client.get_experiment_by_name("ganbench/tiny_benchmark-small")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 + 2 + 2 * 3 + 2  # parent, a search trial and 3 final seeds per value, a summary run per value
    # Running it again continues the finished sweep: nothing reruns, the report is rebuilt.
    assert main(["reproduce", str(TINY), "--out", str(out)]) == 0
    assert len(client.search_runs([experiment.experiment_id])) == len(runs)


def test_thereproducing_command_holds_no_machine_path(monkeypatch):
    from ganbench.resources import search_spaces
    from ganbench.sweep.driver import SweepOptions, reproducing_command

    path = str(search_spaces() / "benchmarks" / "ring8_pacgan.yaml")
    monkeypatch.setattr("sys.argv", ["python", "-c"])  # a driver started from Python, as `reproduce` tests do
    command = reproducing_command(SweepOptions(file=path), load_sweep(path, "small"), "ring8_pacgan-small")
    assert command == "ganbench sweep search_spaces/benchmarks/ring8_pacgan.yaml --name ring8_pacgan-small --budget small"
    monkeypatch.setattr("sys.argv", ["ganbench", "reproduce", "ring8_pacgan"])
    assert reproducing_command(SweepOptions(file=path), load_sweep(path, "small"), "x") == "ganbench reproduce ring8_pacgan"


@pytest.mark.parametrize("name", ["ring8_pacgan", "grid25_pacgan"])
def test_the_medium_pacgan_budgets_train_pacgans_rows_with_its_optimizer(name):
    """PacGAN's Table 1 at a CPU budget: NS at pack 1 and 2, no search, PacGAN's Adam, <= 10% of its steps, 10 seeds;
    the file's pack-4 and hinge rows stay as context, and the budget's protocol differences are written down."""
    sweep = load_sweep(find(name), "medium")
    study = sweep.studies[0]
    assert [study.label(v) for v in study.values()] == ["non_saturating,1", "non_saturating,2"]
    assert (study.num_samples, study.seeds) == (0, 10) and study.steps <= 40_000
    config = resolve(study.midpoint_config(study.values()[0]))
    assert (config.optim.lr_g, config.optim.lr_d, config.optim.beta1) == (1e-4, 1e-4, 0.8)
    context = [ref for ref in study.reference if ref.get("value") is None and ref["row"] == "PacGAN4"]
    assert context and all(ref["note"] == "not compared at the medium budget" for ref in context)
    # PacGAN's protocol as its code runs it (issue 22), and what still differs written down, the step count first
    assert (config.model.init, config.model.pack_mode, config.train.update, config.model.bn_eps,
            config.model.bn_momentum, config.eval.bn_reestimate_batches) == ("normal_0.02", "pacgan", "simultaneous",
                                                                             1e-4, 0.05, 50)
    notes = sweep.benchmark["notes"]["medium"]
    assert "What still differs from PacGAN's" in notes and "(1) length: 10,000 generator steps" in notes


@pytest.mark.parametrize("typed", ["ring8_pacgn", "search_spaces/benchmarks/ring8_pacgn.yaml"])
def test_a_benchmark_not_found_suggests_the_closest_name(typed):
    with pytest.raises(GanbenchError, match=r"did you mean 'ring8_pacgan'\?"):
        find(typed)


def test_a_dry_run_shows_what_the_overrides_change(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_HOME", str(tmp_path))
    assert main(["reproduce", "ring8_pacgan", "--dry-run", "train.steps=1000", "eval.every=250"]) == 0
    out = capsys.readouterr().out
    assert "study ring8_pacgan: command-line overrides, in every trial: train.steps 2000 -> 1000, " \
           "eval.every 500 -> 250" in out and "passed" in out
