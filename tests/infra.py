"""Helpers for the infrastructure tests: free ports, process trees by PID, private Ray clusters and
MLflow servers. Nothing here ever stops a process it did not start (no global ``ray stop``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent
# For a *local* Ray only (a test driver's own, started by ray.init): token auth off, because a local Ray in
# token mode writes ~/.ray/auth_token into the home of whoever runs the tests. Token mode is tested where it
# matters, on the `ray start` clusters below (RayCluster), which always run with it on.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


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

    def __init__(self, num_cpus: int, num_gpus: int = 0, object_store_mb: int = 150) -> None:
        self.temp = short_tmp("rc")
        # Token authentication on, as on a real cluster: nodes and drivers get the token from the environment.
        self.auth_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.num_cpus, self.num_gpus, self.object_store_mb = num_cpus, num_gpus, object_store_mb
        self.command = self._command()

    def _command(self) -> list[str]:
        """A fresh ``ray start`` command line on newly chosen free ports (also sets ``address``)."""
        ports, worker_ports = free_ports(7, width=40)
        port, node_manager, object_manager, agent_grpc, agent_http, metrics, runtime_env = ports
        self.address = f"127.0.0.1:{port}"
        return [
            str(BIN / "ray"), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.num_cpus}", f"--num-gpus={self.num_gpus}", f"--temp-dir={self.temp}",
            "--include-dashboard=false", "--disable-usage-stats",
            f"--object-store-memory={self.object_store_mb * 1024 * 1024}",
            f"--node-manager-port={node_manager}", f"--object-manager-port={object_manager}",
            f"--dashboard-agent-grpc-port={agent_grpc}",
            f"--dashboard-agent-listen-port={agent_http}", f"--metrics-export-port={metrics}",
            f"--runtime-env-agent-port={runtime_env}",
            f"--min-worker-port={worker_ports}", f"--max-worker-port={worker_ports + 39}",
        ]

    def start(self, attempts: int = 3) -> RayCluster:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **self.auth_env}
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
        # Twice: a process could fork between the scan and the kill.
        for _ in range(2):
            pids = self.pids()
            if pids:
                kill_pids(pids)
        if not keep_temp:
            shutil.rmtree(self.temp, ignore_errors=True)


class MlflowServer:
    """``mlflow server`` on a free port with a sqlite store and a served artifact root; stopped by PID."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_ports(1)[0][0]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.artifacts = root / "artifacts"
        self.command = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                        "--artifacts-destination", str(self.artifacts), "--host", "127.0.0.1",
                        "--port", str(self.port), "--workers", "1"]
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> MlflowServer:
        self.log = open(self.root / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True, env={**os.environ, "MLFLOW_TRACKING_URI": ""})

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
def mlflow_server(root: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(root)
    try:
        yield server.start()
    finally:
        server.stop()
