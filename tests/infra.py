"""Helpers for the infrastructure tests: free ports, process trees by PID, private Ray clusters and
MLflow servers. Nothing here ever stops a process it did not start (no global ``ray stop``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient

BIN = Path(sys.executable).parent
# For a *local* Ray only (a test driver's own, started by ray.init): token auth off, because a local Ray in
# token mode writes ~/.ray/auth_token into the home of whoever runs the tests. Token mode is tested where it
# matters, on the `ray start` clusters below (RayCluster), which always run with it on.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


# Python that makes N processes start their next line together: each marks itself ready in the folder argv[1],
# then waits for argv[2] marks (imports done), so that what follows races for real.
BARRIER = ("import os, sys, time\nos.makedirs(sys.argv[1], exist_ok=True)\n"
           "open(os.path.join(sys.argv[1], str(os.getpid())), 'w').close()\n"
           "while len(os.listdir(sys.argv[1])) < int(sys.argv[2]):\n    time.sleep(0.01)\n")


def _bound(port: int = 0) -> socket.socket:
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


def free_ports(count: int, width: int = 0) -> tuple[list[int], int]:
    """``count`` distinct free TCP ports on 127.0.0.1, and (if ``width``) the first of ``width``
    consecutive free ports that overlap none of them.

    Every port is held open until all are chosen, so the single ports can never land inside the
    range (Ray refuses to start when two of its components share a port)."""
    held: list[socket.socket] = []
    try:
        first = 0
        if width:
            for _ in range(200):
                candidate = _bound()
                start = candidate.getsockname()[1]
                candidate.close()
                if start + width >= 65535:
                    continue
                block = []
                try:
                    for port in range(start, start + width):
                        block.append(_bound(port))
                except OSError:
                    for sock in block:
                        sock.close()
                    continue
                held.extend(block)
                first = start
                break
            else:
                raise RuntimeError(f"no {width} consecutive free ports")
        singles = [_bound() for _ in range(count)]
        held.extend(singles)
        return [s.getsockname()[1] for s in singles], first
    finally:
        for sock in held:
            sock.close()


def short_tmp(prefix: str) -> Path:
    """A private temp dir directly under /tmp: Ray's socket paths must stay under 107 bytes."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) for every process visible in /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry)] = (ppid, cmdline)
    return table


def descendants(roots: set[int], table: dict[int, tuple[int, str]] | None = None) -> set[int]:
    table = _processes() if table is None else table
    found, frontier = set(), set(roots)
    while frontier:
        children = {pid for pid, (ppid, _) in table.items() if ppid in frontier and pid not in found}
        found |= children
        frontier = children
    return found


def mentioning(text: str) -> set[int]:
    """Processes whose command line mentions ``text`` (a private temp dir), and all their descendants."""
    table = _processes()
    roots = {pid for pid, (_, cmdline) in table.items() if text in cmdline and pid != os.getpid()}
    return roots | descendants(roots, table)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def kill_pids(pids: set[int], sig: int = signal.SIGKILL, timeout: float = 15.0) -> None:
    """Signal exactly these processes (by PID) and wait until they are gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)


def wait_until(predicate, timeout: float, every: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


class RayCluster:
    """``ray start --head`` on private ports and a private temp dir; stopped by PID, never ``ray stop``."""

    def __init__(self, num_cpus: int, num_gpus: int = 0, object_store_mb: int = 150,
                 env: dict[str, str] | None = None, head: RayCluster | None = None) -> None:
        self.temp = short_tmp("rc")
        self.head = head  # None: this is the head node; else a node joining that head's cluster
        # Token authentication on, as on a real cluster: nodes and drivers get the token from the environment.
        self.auth_env = head.auth_env if head else {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env = env or {}
        self.num_cpus, self.num_gpus, self.object_store_mb = num_cpus, num_gpus, object_store_mb
        self.workers: list[RayCluster] = []
        self.command = self._command()

    def _command(self) -> list[str]:
        """A fresh ``ray start`` command line on newly chosen free ports (also sets ``address``)."""
        ports, worker_ports = free_ports(7, width=40)
        port, node_manager, object_manager, agent_grpc, agent_http, metrics, runtime_env = ports
        if self.head is None:
            self.address = f"127.0.0.1:{port}"
            role = ["--head", f"--port={port}", "--include-dashboard=false"]
        else:
            self.address = self.head.address
            role = [f"--address={self.head.address}"]
        return [
            str(BIN / "ray"), "start", *role, "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.num_cpus}", f"--num-gpus={self.num_gpus}", f"--temp-dir={self.temp}",
            "--disable-usage-stats",
            f"--object-store-memory={self.object_store_mb * 1024 * 1024}",
            f"--node-manager-port={node_manager}", f"--object-manager-port={object_manager}",
            f"--dashboard-agent-grpc-port={agent_grpc}",
            f"--dashboard-agent-listen-port={agent_http}", f"--metrics-export-port={metrics}",
            f"--runtime-env-agent-port={runtime_env}",
            f"--min-worker-port={worker_ports}", f"--max-worker-port={worker_ports + 39}",
        ]

    def add_worker(self, num_cpus: int) -> RayCluster:
        """A second node on this machine (its own temp dir and ports), joining this head; stopped with it."""
        node = RayCluster(num_cpus, env=self.env, head=self).start()
        self.workers.append(node)
        return node

    def start(self, attempts: int = 3) -> RayCluster:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **self.env, **self.auth_env}
        for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH"):
            env.pop(key, None)
        for attempt in range(attempts):
            done = subprocess.run(self.command, env=env, capture_output=True, text=True, timeout=120)
            if done.returncode == 0:
                return self
            self.stop(keep_temp=True)
            # Another process may take a chosen port between choosing and binding it: choose again.
            if "port" not in done.stderr.lower() or attempt == attempts - 1:
                break
            self.command = self._command()
        shutil.rmtree(self.temp, ignore_errors=True)
        raise RuntimeError(f"ray start failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def pids(self) -> set[int]:
        return mentioning(str(self.temp))

    def stop(self, keep_temp: bool = False) -> None:
        for node in self.workers:
            node.stop()
        # Twice: a process could fork between the scan and the kill.
        for _ in range(2):
            pids = self.pids()
            if pids:
                kill_pids(pids)
        if not keep_temp:
            shutil.rmtree(self.temp, ignore_errors=True)


class MlflowServer:
    """``mlflow server`` on a free port with a sqlite store and a served artifact root; stopped by PID."""

    def __init__(self, root: Path, backend: str = "", artifacts: str = "", env: dict[str, str] | None = None) -> None:
        self.root = root
        self.port = free_ports(1)[0][0]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.artifacts = root / "artifacts"
        self.env = env or {}
        self.command = [str(BIN / "mlflow"), "server", "--backend-store-uri", backend or f"sqlite:///{root / 'mlflow.db'}",
                        "--artifacts-destination", artifacts or str(self.artifacts), "--host", "127.0.0.1",
                        "--port", str(self.port), "--workers", "1"]
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> MlflowServer:
        self.log = open(self.root / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True, env={**os.environ, **self.env, "MLFLOW_TRACKING_URI": ""})

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.root / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_until(healthy, timeout, what="mlflow server /health")
        return self

    def stop(self) -> None:
        if self.process is not None:
            pids = {self.process.pid} | descendants({self.process.pid})
            kill_pids(pids, signal.SIGTERM, timeout=10)
            kill_pids({p for p in pids if alive(p)})
            self.process.wait(timeout=10)
            self.log.close()


@contextlib.contextmanager
def ray_cluster(num_cpus: int, num_gpus: int = 0) -> Iterator[RayCluster]:
    cluster = RayCluster(num_cpus, num_gpus)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@contextlib.contextmanager
def mlflow_server(root: Path, **options: Any) -> Iterator[MlflowServer]:
    server = MlflowServer(root, **options)
    try:
        yield server.start()
    finally:
        server.stop()


# ------------------------------------------------------------------------------ ganbench sweep drivers

def sweep_env(home: Path, ray_tmp: Path) -> dict[str, str]:
    env = {**os.environ, **RAY_ENV, "GANBENCH_HOME": str(home), "RAY_TMPDIR": str(ray_tmp)}
    for key in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID"):
        env.pop(key, None)
    return env


def ganbench_sweep(args: list[str], env: dict[str, str], log: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m ganbench sweep ...`` in its own session; whatever it leaves behind is killed by PID."""
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", *args], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=timeout)
        finally:
            kill_session(process)
    return subprocess.CompletedProcess(process.args, process.returncode, log.read_text(), "")


def kill_session(process: subprocess.Popen, tree: set[int] | None = None) -> None:
    """SIGKILL the driver, then every process it started (its session, and its tree as seen before)."""
    tree = (tree or set()) | descendants({process.pid})
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    # Ray's agents outlive a SIGKILLed driver (reparented to init) but stay in its process group.
    group = {pid for pid in _processes() if _pgid(pid) == process.pid}
    kill_pids((tree | group) - {os.getpid()})


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def completed_children(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            return conn.execute("select count(*) from tags where key = 'outcome' and value = 'completed'").fetchone()[0]
    except sqlite3.Error:  # tables not created yet, or locked for a moment
        return 0


def runs_of(client: MlflowClient, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    return client.search_runs([found.experiment_id], max_results=1000)


def children(runs: list) -> list:
    return [r for r in runs if r.data.tags.get("ganbench.kind") == "trial"]


def histories(client: MlflowClient, run) -> dict[str, list[int]]:
    return {key: [m.step for m in client.get_metric_history(run.info.run_id, key)] for key in run.data.metrics}


def assert_runs_match_plan(runs: list, planned: Counter) -> list:
    """Nothing left RUNNING, no trial id with two runs, and the trial runs not closed as lost count (stage, value) as
    planned; returns those runs."""
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    trials = children(runs)
    assert [tid for tid, n in Counter(r.data.tags["ganbench.trial_id"] for r in trials).items() if n > 1] == []
    kept = [r for r in trials if r.data.tags["outcome"] != "lost"]
    assert Counter((r.data.tags["stage"], r.data.tags["value"]) for r in kept) == planned
    return kept


def assert_steps_strictly_increase(client: MlflowClient, runs: list) -> None:
    repeated = {}
    for run in runs:
        for key, steps in histories(client, run).items():
            if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
                repeated[f"{run.info.run_name}:{key}"] = steps
    assert not repeated, f"metric steps not strictly increasing: {repeated}"


# ------------------------------------------------------------------------------ PostgreSQL and S3 on loopback

def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (``apt-get install postgresql``), newest version first."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def need_postgres() -> Path:
    """The binaries, or a skip outside CI. Under CI=true a missing server fails: .ci/run installs it."""
    import pytest

    found = postgres_bin()
    if found is None:
        message = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): apt-get install postgresql"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: .ci/run installs it, so this must not skip)")
        pytest.skip(message)
    return found


class PostgresServer:
    """A private PostgreSQL cluster on 127.0.0.1 and a free port, trust auth, in a temp dir; stopped by PID.

    ``initdb`` refuses to run as root: as root, every server command runs as the ``postgres`` user that
    Debian's package creates (``runuser``); as anyone else, as that user."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = short_tmp("pg")
        self.port = free_ports(1)[0][0]
        self.data, self.log = self.root / "data", self.root / "server.log"

    def _run(self, *command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120, check=True)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1")
        return self

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        kill_pids(mentioning(str(self.root)))
        shutil.rmtree(self.root, ignore_errors=True)


class S3Server:
    """moto's S3-compatible server (``moto_server``, from PyPI) on a free port, with one bucket."""

    def __init__(self, root: Path, bucket: str = "ganbench") -> None:
        self.root, self.bucket = root, bucket
        self.port = free_ports(1)[0][0]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        # What every client needs, boto3 (MLflow) and pyarrow (Ray's --storage, ganbench's state) alike.
        self.env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.endpoint,
                    "MLFLOW_S3_ENDPOINT_URL": self.endpoint}
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> S3Server:
        self.log = open(self.root / "moto.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {(self.root / 'moto.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2):
                    return True
            except OSError:
                return False

        wait_until(up, timeout, what="moto_server")
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def stop(self) -> None:
        if self.process is not None:
            kill_pids({self.process.pid} | descendants({self.process.pid}))
            self.process.wait(timeout=10)
            self.log.close()


@contextlib.contextmanager
def s3_server(root: Path) -> Iterator[S3Server]:
    server = S3Server(root)
    try:
        yield server.start()
    finally:
        server.stop()


def fake_tune_and_ray(monkeypatch, trial_id: str, trial_dir: str, report, checkpoint=None) -> None:
    """Run ``ganbench.sweep.tuner.trainable.run_trial`` in-process: Tune's context, checkpoint and report calls and
    Ray's runtime context, faked on the trainable module."""
    from types import SimpleNamespace

    from ganbench.sweep.tuner import trainable  # the module under test, imported where it is faked

    context = SimpleNamespace(get_trial_id=lambda: trial_id, get_trial_dir=lambda: trial_dir)
    monkeypatch.setattr(trainable, "tune", SimpleNamespace(
        get_context=lambda: context, get_checkpoint=lambda: checkpoint, Checkpoint=trainable.tune.Checkpoint,
        report=report))
    monkeypatch.setattr(trainable, "ray", SimpleNamespace(get_gpu_ids=lambda: [], get_runtime_context=lambda: (
        SimpleNamespace(get_node_id=lambda: "node", get_assigned_resources=lambda: {}))))
