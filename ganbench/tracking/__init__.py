"""MLflow, behind one adapter: the store and its runs (``store``)."""

from ganbench.tracking.store import Tracker, default_tracking_uri, home, ui_command

__all__ = ["Tracker", "default_tracking_uri", "home", "ui_command"]
