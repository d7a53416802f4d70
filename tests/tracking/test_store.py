"""The MLflow store: creating a sqlite store from several processes at once never fails."""

from __future__ import annotations

import subprocess
import sys

from tests.infra import BARRIER


def test_processes_creating_one_sqlite_store_at_once_all_succeed(tmp_path):
    code = BARRIER + ("from ganbench.tracking.store import Tracker\n"
                      "Tracker(f'sqlite:///{sys.argv[3]}', 'ganbench/x').open()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "barrier"), "4", str(tmp_path / "mlflow.db")],
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], [err for _, err in results]
    assert not any("Traceback" in err for _, err in results)
