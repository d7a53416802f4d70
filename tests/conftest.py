"""Shared fixtures: tiny configs that train in well under a second per step."""

from __future__ import annotations

import pytest

from ganbench.config import Config, load_config

# A ring8 run small enough for contract and smoke tests.
TINY = ["model.g_width=32", "model.d_width=16", "data.size=2000", "train.steps=20", "train.batch_size=50",
        "eval.every=10", "eval.n_samples=500", "train.log_every=5", "train.threads=1", "device=cpu"]


def tiny_config(*overrides: str) -> Config:
    return load_config(overrides=[*TINY, *overrides])


@pytest.fixture
def tiny() -> Config:
    return tiny_config()


@pytest.fixture(scope="session")
def ganbench_home(tmp_path_factory):
    """One GANBENCH_HOME (MLflow store, sweep states, Ray results) shared by the sweep and report tests."""
    import os

    home = tmp_path_factory.mktemp("home")
    previous = {k: os.environ.get(k) for k in ("GANBENCH_HOME", "MLFLOW_TRACKING_URI")}
    os.environ["GANBENCH_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield home
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def ray_local(ganbench_home):
    """A local Ray for the whole session: started once, stopped at the end (never a running cluster)."""
    import os
    import tempfile

    import ray

    # Token auth off for this local, in-process Ray only: in token mode a local Ray writes ~/.ray/auth_token
    # into the home of whoever runs the tests. The `ray start` cluster tests run with token auth on.
    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # socket paths must stay under 107 bytes
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=150 * 1024 * 1024,
             _temp_dir=temp, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


SWEEPS = __import__("pathlib").Path(__file__).resolve().parent / "sweep" / "files"


@pytest.fixture(scope="session")
def ci_sweep(ray_local, ganbench_home):
    """The CI-sized sweep, run once; its MLflow store is reused by the sweep and report tests."""
    from ganbench.cli.main import main

    assert main(["sweep", str(SWEEPS / "tiny.yaml"), "--name", "ci"]) == 0
    return "ci"


@pytest.fixture(scope="session")
def faults_sweep(ray_local, ganbench_home):
    """A sweep whose trials fail (batch larger than the data) and diverge (absurd penalty weight)."""
    from ganbench.cli.main import main

    assert main(["sweep", str(SWEEPS / "faults.yaml"), "--name", "faults"]) == 0
    return "faults"
