"""A benchmark's budgets, by name. Imports nothing, so that the command line offers them without loading torch."""

from __future__ import annotations

# small: minutes on this machine; medium: hours in the background (a fraction of the paper); paper: the published one
BUDGETS = ("small", "medium", "paper")
