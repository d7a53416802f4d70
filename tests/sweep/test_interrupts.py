"""The driver's signal handling: the first SIGINT/SIGTERM pauses (gracefully inside a stage), a second exits at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ganbench.sweep.interrupts import Interrupted, SignalGuard


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_outside_a_stage_raises_interrupted_with_the_shell_exit_code(signum, code):
    guard = SignalGuard()
    with guard.installed(), pytest.raises(Interrupted) as raised:
        os.kill(os.getpid(), signum)
        for _ in range(1000):  # Python runs the handler between bytecodes
            pass
    assert raised.value.exit_code == code
    assert signal.getsignal(signum) is not guard._handle  # uninstalled on leaving


def test_a_signal_inside_a_stage_asks_it_to_stop_and_raises_only_when_it_has():
    guard, stops, events = SignalGuard(), [], []
    with guard.installed(), pytest.raises(Interrupted):
        with guard.graceful(lambda: stops.append("stop")):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
            events.append("the stage went on to its end")  # Tune saves its state here
    assert stops == ["stop"] and events == ["the stage went on to its end"]


def test_a_signal_just_before_a_stage_stops_it_as_it_starts():
    guard, stops = SignalGuard(), []
    guard.signum = signal.SIGTERM
    with pytest.raises(Interrupted):
        with guard.graceful(lambda: stops.append("stop")):
            pass
    assert stops == ["stop"]


def test_a_second_signal_exits_at_once():
    code = textwrap.dedent("""
        import os, signal, time
        from ganbench.sweep.interrupts import SignalGuard
        guard = SignalGuard()
        guard.on_second = "resume with `ganbench sweep x.yaml --resume`"
        guard.install()
        with guard.graceful(lambda: None):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
            print("not reached")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130
    assert "not reached" not in proc.stdout and "Traceback" not in proc.stderr
    assert "SIGINT again: exiting now. resume with `ganbench sweep x.yaml --resume`" in proc.stderr
