"""The Ray core adapter: start a local Ray or join a running cluster.

Kept apart from the Tune adapter (``ganbench.sweep.tuner``) because it imports nothing but ``ray``: the
sweep driver starts Ray on a thread and meanwhile imports torch, Tune and MLflow (~4 s here). Ray's
start (~3 s) is mostly waiting on its own processes, so the two overlap instead of queueing.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from concurrent.futures import Future

from ganbench.errors import GanbenchError

TOKEN_HINT = ("give the driver the cluster's token: RAY_AUTH_MODE=token with RAY_AUTH_TOKEN=<token> or "
              "RAY_AUTH_TOKEN_PATH=<file> (`ray get-auth-token` on the head prints it)")


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds when nothing listens at a ``host:port`` or ``ray://host:port`` address: Ray's
    own connect retries an unreachable GCS for many minutes before it raises."""

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise GanbenchError(f"--address {address}: nothing answers there ({exc.strerror or exc}); start a head "
                            "with `ray start --head --port PORT`, or drop --address (and unset RAY_ADDRESS) for a "
                            "local Ray") from exc


def check_token(address: str) -> None:
    """Refuse at once a driver without the token of a cluster that runs Ray's token authentication: ray.init
    retries such a refusal for ~20 s and then reports only "Failed to connect", while the GCS client says
    why immediately. Addresses it cannot probe (ray://, auto) are left to ray.init."""
    from ray._raylet import GcsClient  # Ray's own GCS client; only when joining a cluster
    from ray.exceptions import AuthenticationError  # (as above)

    host, _, port = address.rpartition(":")
    if address.startswith("ray://") or not host or not port.isdigit():
        return
    try:
        GcsClient(address=address)
    except AuthenticationError as exc:
        raise GanbenchError(f"--address {address}: the cluster runs Ray token authentication and this driver has "
                            f"no valid token: {TOKEN_HINT}") from exc
    except Exception:  # noqa: BLE001 - anything else is ray.init's to report, with its own message
        return


def init_ray(address: str | None, env: dict[str, str], required: dict[str, str] | None = None) -> dict[str, float]:
    """Start a local Ray (never attaching by accident) or join ``address``, with ``env`` in every worker's
    environment (Ray's runtime environment: set before the worker imports anything, on every node); returns cluster
    resources. ``required``: variables of ``env`` the trials cannot do without (the CPU kernels' mode), refused in
    one line when this process already runs a Ray started without them (its environment cannot change)."""
    import ray  # Ray only where it runs: `--plan` on this machine never starts it
    from ray.exceptions import AuthenticationError  # (as above)

    if address:
        check_reachable(address)  # also when this process already runs a Ray: the user asked for this one
        check_token(address)
    if not ray.is_initialized():
        try:
            ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": env}, configure_logging=False)
        except AuthenticationError as exc:
            where = f"--address {address}" if address else "local Ray"
            raise GanbenchError(f"{where}: Ray token authentication is on and this driver has no token: {TOKEN_HINT}") \
                from exc
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            where = f"--address {address}" if address else "local Ray"
            # A cluster with token authentication looks exactly like this to a driver without its token.
            hint = f" (if the cluster uses token authentication: {TOKEN_HINT})" if address else ""
            raise GanbenchError(f"{where}: cannot start or join Ray: {str(exc).strip().splitlines()[0]}{hint}") from exc
    elif required:
        given = ray.get_runtime_context().runtime_env.get("env_vars") or {}
        if missing := {key: value for key, value in required.items() if given.get(key) != value}:
            wanted = " ".join(f"{key}={value}" for key, value in missing.items())
            raise GanbenchError(f"this process already runs Ray without {wanted} in its runtime environment, which the "
                                "sweep's trials need (cpu_kernels); run the sweep from `ganbench sweep`, or start Ray "
                                f"with ray.init(runtime_env={{'env_vars': {missing!r}}})")
    resources = dict(ray.cluster_resources())
    # With a custom searcher Tune keeps one trial PENDING at a time, so trials start one by one; allow one per CPU.
    os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(max(1, int(resources.get("CPU", 1)))))
    return resources


def start_ray(address: str | None, env: dict[str, str],
              required: dict[str, str] | None = None) -> Future[dict[str, float]]:
    """``init_ray`` on a background thread; ``.result()`` gives the resources or raises Ray's error."""
    import ray  # noqa: F401 - imported here, not on the thread: two threads importing Ray at once can deadlock

    # ray.init sets its SIGTERM handler only on the main thread (and warns otherwise); the driver answers SIGTERM
    # itself (ganbench.sweep.interrupts).
    logging.getLogger("ray._private.worker").addFilter(lambda record: "SIGTERM handler" not in record.getMessage())
    started: Future[dict[str, float]] = Future()

    def run() -> None:
        # Ray's local processes (GCS, raylet, agents) are started from this thread and inherit its signal mask:
        # with SIGINT and SIGTERM blocked they outlive a Ctrl-C sent to the terminal's process group, so the
        # driver can pause the sweep cleanly (Tune saves its state through them). They still end with the driver.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            started.set_result(init_ray(address, env, required))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            started.set_exception(exc)
            return
        # Ray's processes die with the *thread* that started them (Linux's parent-death signal is per
        # thread), so this thread lives as long as the process does.
        threading.Event().wait()

    threading.Thread(target=run, name="ray-start", daemon=True).start()
    return started
