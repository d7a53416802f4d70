"""Ctrl-C and SIGTERM as a pause, never an ending (no Ray in here).

The first SIGINT or SIGTERM asks the running stage to stop the way Tune stops when it is interrupted: it
hands out no more trials, saves its experiment state one last time and stops the trials it runs, which
keep their checkpoints. The driver then closes the open MLflow runs as ``interrupted`` and exits with
128 + the signal (130 for SIGINT, 143 for SIGTERM), printing the command that resumes the sweep. Outside a
stage (starting Ray, preparing statistics) the signal raises ``Interrupted`` where the driver is. A second
signal exits at once.

Ray's own handlers would otherwise answer: Tune's SIGINT handler prints a ``Tuner.restore(...)`` hint (a
Python API, not a command) and lets the driver go on as if the stage had ended, and the Ray core's SIGTERM
handler dumps a native stack and aborts (exit 134).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The driver was asked to stop by ``signum``; the sweep is paused, not ended."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class SignalGuard:
    """The driver's SIGINT and SIGTERM handler (one per process: signals belong to the main thread)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._graceful_stop: Callable[[], None] | None = None
        self._previous: dict[int, object] = {}
        self.on_second: str = ""  # what the second signal prints before exiting

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def install(self) -> None:
        """(Re)install the handlers: again after Ray starts, whose core replaces the SIGTERM handler."""
        for signum in SIGNALS:
            previous = signal.signal(signum, self._handle)
            self._previous.setdefault(signum, previous)

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
        self.signum, self._graceful_stop = None, None

    @contextlib.contextmanager
    def installed(self) -> Iterator[SignalGuard]:
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    @contextlib.contextmanager
    def graceful(self, stop: Callable[[], None]) -> Iterator[None]:
        """While inside, a signal calls ``stop`` (which must return at once) instead of raising; on leaving,
        ``Interrupted`` is raised if a signal came."""
        self._graceful_stop = stop
        try:
            if self.signum is not None:  # came in just before: stop as soon as the stage starts
                stop()
            yield
        finally:
            self._graceful_stop = None
        self.check()

    def check(self) -> None:
        """Raise ``Interrupted`` if a signal came (for code that cannot be interrupted mid-way)."""
        if self.signum is not None:
            raise Interrupted(self.signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            sys.stderr.write(f"\nganbench: {signal.Signals(signum).name} again: exiting now. {self.on_second}\n")
            sys.stderr.flush()
            os._exit(128 + signum)
        self.signum = signum
        if self._graceful_stop is not None:
            sys.stderr.write(f"\nganbench: {signal.Signals(signum).name}: pausing the sweep (saving state, stopping "
                             "trials at their checkpoints); press Ctrl-C again to exit at once\n")
            sys.stderr.flush()
            self._graceful_stop()
            return
        raise Interrupted(signum)


GUARD = SignalGuard()
