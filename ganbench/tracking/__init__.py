"""MLflow, behind one adapter: the store and its runs (``store``), the trial runs' lifecycle (``runs``), what a
trial run holds with the one codec for its tags (``record``), the leaderboard as summary runs (``summary``) and
what a sweep's numbers came from, recorded on its parent (``origin``: machine fingerprint, code commit). Nothing is
imported here: ``record`` must stay cheap for the sweep's judge, while ``store`` imports MLflow."""

__all__ = ["origin", "record", "runs", "store", "summary"]
