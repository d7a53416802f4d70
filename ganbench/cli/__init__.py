"""The ``ganbench`` command: argument parsing (``main``, light, so ``--help`` stays fast) and what each
subcommand does (``commands``, imported only after parsing)."""

from ganbench.cli.main import main

__all__ = ["main"]
