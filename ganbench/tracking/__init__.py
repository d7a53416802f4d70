"""MLflow, behind one adapter: the store and its runs (``store``), the trial runs' lifecycle (``runs``) and what a
trial run holds with the one codec for its tags (``record``). Nothing is imported here: ``record`` must stay cheap
for the sweep's judge, while ``store`` imports MLflow."""

__all__ = ["record", "runs", "store"]
