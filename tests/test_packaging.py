"""The wheel, as a worker installs it: built from a clean copy of the tree, installed outside the checkout,
used from a folder that is not the repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _clean_tree(destination: Path) -> Path:
    """The tracked files as they are now (uncommitted edits included, never a stale build/), via git archive."""
    snapshot = subprocess.run(["git", "stash", "create"], cwd=ROOT, capture_output=True, text=True, check=True)
    revision = snapshot.stdout.strip() or "HEAD"
    archive = destination / "tree.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), revision], cwd=ROOT, check=True)
    tree = destination / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory) -> tuple[Path, Path]:
    """(the built wheel, the --target folder it is installed into)."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout (git archive)")
    work = tmp_path_factory.mktemp("wheel")
    tree = _clean_tree(work)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(tree)],
                   check=True, capture_output=True)
    (wheel,) = (work / "dist").glob("ganbench-*.whl")
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    return wheel, target


def _ganbench(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # -P: the working directory is not put on sys.path, so only --target can provide ganbench.
    env = {**os.environ, "PYTHONPATH": str(target), "GANBENCH_HOME": str(cwd / "home")}
    return subprocess.run([sys.executable, "-P", "-m", "ganbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_wheel_carries_weights_benchmarks_and_sweep_examples(wheel_install) -> None:
    wheel, _ = wheel_install
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"ganbench/metrics/weights/lenet_digits.pt", "ganbench/metrics/weights/lenet_digits.json",
                "ganbench/search_spaces/quickstart.yaml", "ganbench/search_spaces/train/digits_wgan_gp.yaml"}
    benchmarks = (ROOT / "search_spaces" / "benchmarks").glob("*.yaml")
    expected |= {f"ganbench/search_spaces/benchmarks/{p.name}" for p in benchmarks}
    assert expected - names == set()


@pytest.mark.slow
def test_installed_wheel_runs_outside_the_checkout(wheel_install, tmp_path) -> None:
    _, target = wheel_install
    where = subprocess.run(
        [sys.executable, "-P", "-c", "import ganbench; print(ganbench.__file__)"], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)}, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).resolve().is_relative_to(target.resolve())

    listing = _ganbench(target, tmp_path, "list", "--json")
    assert listing.returncode == 0, listing.stderr
    assert "lenet_digits" in json.loads(listing.stdout)["metrics"]["entries"]

    trained = _ganbench(target, tmp_path, "train", "--set", "data.name=digits", "--set", "train.steps=2",
                        "--set", "eval.every=2", "--set", "eval.n_samples=200", "--set", "train.threads=1",
                        "--out", "run", "--json")
    assert trained.returncode == 0, trained.stderr
    evaluated = _ganbench(target, tmp_path, "evaluate", "run/checkpoint.pt", "--metrics", "lenet_digits",
                          "--n", "400", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert result["unavailable"] == {}
    assert result["metrics"]["fid_lenet_digits"] > 0
    assert result["protocol"]["lenet_digits"]["extractor"] == "lenet_digits"

    dry = _ganbench(target, tmp_path, "reproduce", "ring8_pacgan", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run of ring8_pacgan" in dry.stdout
    # README's paths work without a checkout: the wheel's copy of search_spaces/ stands in.
    plan = _ganbench(target, tmp_path, "sweep", "search_spaces/quickstart.yaml", "--plan")
    assert plan.returncode == 0, plan.stderr
    assert "ring8_losses" in plan.stdout
    assert not (tmp_path / "search_spaces").exists()
