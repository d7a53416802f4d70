"""One driver per sweep: a lease that lives with the sweep's state under ``--storage`` (no Ray in here).

The lease is a small JSON object beside the state (``<storage>/ganbench-sweeps/<name>.lock``): the holder's
host, pid and process start time, a random token, and a heartbeat that the driver refreshes every quarter
lease. A second driver, or a ``--resume`` while the first runs, reads it and is refused in one line naming
the holder, before anything is written. A lease is taken over by ``--resume``:

- at once, when its holder ran on this host and that process is provably gone (no such pid, or a pid reused
  by a process that started later);
- otherwise once its heartbeat is older than the lease (``GANBENCH_LOCK_LEASE_S``, default 60 s): a driver on
  another host, or one whose host went down, cannot be checked from here.

Taking the lease is made atomic where the storage allows it: on a path (local disk, NFS) under a file lock
(``filelock``) around read-judge-write; on an object store (S3 and friends, which have no exclusive create)
by writing, waiting for the write to settle and reading it back, so that of two drivers writing at once only
the last writer goes ahead.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from filelock import FileLock
from pyarrow import fs as pafs

from ganbench.errors import GanbenchError
from ganbench.sweep.state import SweepState, is_path

LEASE_S = 60.0
SETTLE_S = 2.0  # object stores: how long a write is given to become what every reader sees


def lease_seconds() -> float:
    return float(os.environ.get("GANBENCH_LOCK_LEASE_S", LEASE_S))


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot: None if there is no such process, -1 if it
    exists but this platform cannot tell when it started (no /proc)."""
    if not os.path.isdir("/proc/self"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return -1
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[19])
    except FileNotFoundError:
        return None
    except (OSError, IndexError, ValueError):
        return -1


@dataclass(frozen=True)
class Lease:
    host: str
    pid: int
    started: int | None  # the holder's process start time (see process_start)
    token: str
    heartbeat: float     # wall-clock time of the last refresh
    since: float

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}"

    def gone(self) -> bool:
        """Provably dead: it ran on this host and its process no longer exists (or the pid was reused)."""
        if self.host != socket.gethostname():
            return False
        now = process_start(self.pid)
        return now is None or (self.started is not None and now != -1 and now != self.started)

    def age(self) -> float:
        return time.time() - self.heartbeat


class SweepLocked(GanbenchError):
    """Another driver holds the sweep."""


class SweepLock:
    """The lease of sweep ``store.name``; ``with lock.held():`` takes it, refreshes it, gives it back."""

    def __init__(self, store: SweepState, lease_s: float | None = None) -> None:
        self.store = store
        self.lease_s = lease_seconds() if lease_s is None else lease_s
        self.path = f"{store.folder}/{store.name}.lock"
        self.mine: Lease | None = None
        self.took_over: Lease | None = None  # the stale lease this driver replaced, if any
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- storage
    @property
    def _filesystem(self) -> pafs.FileSystem:
        return self.store.filesystem

    def _read(self) -> Lease | None:
        try:
            if self._filesystem.get_file_info(self.path).type != pafs.FileType.File:
                return None
            with self._filesystem.open_input_stream(self.path) as handle:
                return Lease(**json.loads(handle.read().decode()))
        except (ValueError, TypeError):
            return None  # half-written by a driver killed mid-write: nobody holds it
        except OSError as exc:
            raise GanbenchError(f"--storage {self.store.storage}: {str(exc).strip().splitlines()[0]}") from exc

    def _write(self, lease: Lease) -> None:
        self._filesystem.create_dir(self.store.folder, recursive=True)
        with self._filesystem.open_output_stream(self.path) as handle:
            handle.write(json.dumps(asdict(lease)).encode())

    def _delete(self) -> None:
        with contextlib.suppress(OSError):
            self._filesystem.delete_file(self.path)

    @contextlib.contextmanager
    def _critical(self) -> Iterator[None]:
        """Mutual exclusion for read-judge-write where the storage is a path; nothing on an object store."""
        if is_path(self.store.storage):
            self._filesystem.create_dir(self.store.folder, recursive=True)
            with FileLock(self.path + ".guard", timeout=30):
                yield
        else:
            yield

    # -- the lease
    def acquire(self) -> None:
        """Take the lease, or raise ``SweepLocked`` naming its holder (having written nothing)."""
        pid = os.getpid()
        lease = Lease(host=socket.gethostname(), pid=pid, started=process_start(pid), token=secrets.token_hex(8),
                      heartbeat=time.time(), since=time.time())
        with self._critical():
            held = self._read()
            if held is not None and held.token != lease.token:
                self._refuse_unless_stale(held)
                self.took_over = held
            self._write(lease)
        if not is_path(self.store.storage):  # the last writer wins: read back after the write has settled
            time.sleep(SETTLE_S)
            now = self._read()
            if now is None or now.token != lease.token:
                raise SweepLocked(f"sweep {self.store.name!r} was taken by another driver starting at the same "
                                  f"moment ({now.describe() if now else 'unknown'}); one driver per sweep")
        self.mine = lease
        self._thread = threading.Thread(target=self._beat, name="sweep-lease", daemon=True)
        self._thread.start()

    def _refuse_unless_stale(self, held: Lease) -> None:
        if held.gone():
            return
        age = held.age()
        if age > self.lease_s:
            return
        raise SweepLocked(f"sweep {self.store.name!r} is being run by another driver ({held.describe()}, heartbeat "
                          f"{age:.0f} s ago); one driver per sweep: wait for it to end, or stop it (Ctrl-C) and "
                          f"--resume. If it died on another host, --resume takes over once its lease expires, in "
                          f"{max(0.0, self.lease_s - age):.0f} s")

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 4):
            with contextlib.suppress(Exception):  # a storage hiccup: the next beat tries again
                with self._critical():
                    held = self._read()
                    if held is None or held.token != self.mine.token:
                        return  # taken over (this driver stalled past its lease): never write over the new holder
                    self._write(Lease(**{**asdict(self.mine), "heartbeat": time.time()}))

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.mine is None:
            return
        with contextlib.suppress(Exception), self._critical():
            held = self._read()
            if held is not None and held.token == self.mine.token:
                self._delete()
        self.mine = None

    @contextlib.contextmanager
    def held(self) -> Iterator[SweepLock]:
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    def status(self) -> dict[str, Any] | None:
        """The lease as stored (for messages and tests)."""
        held = self._read()
        return asdict(held) if held else None
