"""A full disk, said once: what a full disk looks like in an exception's chain, and a filter that holds back what Ray,
MLflow and Optuna log about it (each a traceback, many times over) so that the driver's one line stands alone."""

from __future__ import annotations

import errno
import logging
import os
import traceback

DISK_FULL = ("database or disk is full", "No space left on device")


class DiskFullNoise(logging.Filter):
    """Drops what Ray, MLflow and Optuna log about a full disk (each a traceback, many times over): the driver
    says it once, with what to do (``ganbench.sweep.driver.run``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(*record.exc_info))
        return not any(sign in text for sign in DISK_FULL)


def quiet_disk_full_noise() -> None:
    """Install the filter on every logger and handler there is (call it once Ray, MLflow and Optuna are imported)."""
    noise = DiskFullNoise()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    for logger in loggers:  # (a logger's filters see its own records, a handler's what propagates to it)
        if isinstance(logger, logging.Logger):
            logger.addFilter(noise)
        for handler in getattr(logger, "handlers", []):
            handler.addFilter(noise)
    # A failed trial's task result that nobody fetched: Tune already handled the trial's error.
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")


def disk_full(error: BaseException) -> str:
    """What a full disk said, anywhere in an exception's chain (OSError ENOSPC, sqlite's "database or disk is
    full" through SQLAlchemy, MLflow or Optuna); '' if nothing did."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return str(error).strip().splitlines()[0]
        for text in DISK_FULL:
            if text in str(error):
                return text
        error = error.__cause__ or error.__context__
    return ""
