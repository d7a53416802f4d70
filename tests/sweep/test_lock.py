"""One driver per sweep: the lease under --storage refuses a second driver, and gives way to a dead one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from ganbench.sweep.lock import SweepLock, SweepLocked, process_start
from ganbench.sweep.state import SweepState
from tests.infra import BARRIER


def lease_file(store: SweepState) -> str:
    return f"{store.folder}/{store.name}.lock"


def write_lease(store: SweepState, **fields) -> None:
    os.makedirs(store.folder, exist_ok=True)
    lease = {"host": socket.gethostname(), "pid": os.getpid(), "started": process_start(os.getpid()),
             "token": "theirs", "heartbeat": time.time(), "since": time.time(), **fields}
    with open(lease_file(store), "w") as handle:
        json.dump(lease, handle)


def test_a_second_driver_is_refused_naming_the_first_and_writes_nothing(tmp_path):
    store = SweepState(str(tmp_path), "s")
    with SweepLock(store).held() as first:
        before = open(lease_file(store)).read()
        with pytest.raises(SweepLocked) as refused:
            SweepLock(store).acquire()
        assert f"host {socket.gethostname()}, pid {os.getpid()}" in str(refused.value)
        assert "\n" not in str(refused.value)
        assert open(lease_file(store)).read() == before
        assert first.status()["token"] == json.loads(before)["token"]
    assert not os.path.exists(lease_file(store))  # given back on leaving


def test_a_dead_driver_on_this_host_is_taken_over_at_once(tmp_path):
    store = SweepState(str(tmp_path), "s")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_lease(store, pid=gone.pid, started=12345)
    lock = SweepLock(store, lease_s=3600)
    with lock.held():
        assert lock.took_over is not None and lock.took_over.pid == gone.pid


def test_a_reused_pid_is_not_the_driver_that_held_the_lease(tmp_path):
    store = SweepState(str(tmp_path), "s")
    write_lease(store, started=process_start(os.getpid()) - 1)  # this pid, but a process that started earlier
    lock = SweepLock(store, lease_s=3600)
    with lock.held():
        assert lock.took_over is not None


def test_a_driver_on_another_host_holds_until_its_lease_expires(tmp_path):
    store = SweepState(str(tmp_path), "s")
    write_lease(store, host="elsewhere", heartbeat=time.time() - 10)
    with pytest.raises(SweepLocked, match="host elsewhere, pid .*lease expires, in 50 s"):
        SweepLock(store, lease_s=60).acquire()
    write_lease(store, host="elsewhere", heartbeat=time.time() - 61)
    lock = SweepLock(store, lease_s=60)
    with lock.held():
        assert lock.took_over.host == "elsewhere"


def test_the_holder_refreshes_its_heartbeat(tmp_path):
    store = SweepState(str(tmp_path), "s")
    lock = SweepLock(store, lease_s=0.4)
    with lock.held():
        first = lock.status()["heartbeat"]
        time.sleep(0.5)
        assert lock.status()["heartbeat"] > first
        with pytest.raises(SweepLocked):  # fresh, so still held
            SweepLock(store, lease_s=0.4).acquire()


def test_two_drivers_starting_at_once_get_one_lease(tmp_path):
    # Each marks that it tried; the one that got the lease holds it until all have tried (a loaded machine may
    # start one so late that it would otherwise find the lease already given back, which is allowed).
    code = BARRIER + ("from ganbench.sweep.lock import SweepLock, SweepLocked\n"
                      "from ganbench.sweep.state import SweepState\n"
                      "tried = os.path.join(sys.argv[3], 'tried')\nos.makedirs(tried, exist_ok=True)\n"
                      "lock = SweepLock(SweepState(sys.argv[3], 's'))\n"
                      "try:\n    lock.acquire()\nexcept SweepLocked:\n"
                      "    open(os.path.join(tried, str(os.getpid())), 'w').close()\n    sys.exit(2)\n"
                      "open(os.path.join(tried, str(os.getpid())), 'w').close()\n"
                      "while len(os.listdir(tried)) < int(sys.argv[2]):\n    time.sleep(0.05)\nlock.release()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "barrier"), "4", str(tmp_path)])
             for _ in range(4)]
    codes = sorted(p.wait(timeout=120) for p in procs)
    assert codes == [0, 2, 2, 2]
