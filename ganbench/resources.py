"""Files that ship with ganbench: extractor weights, benchmark definitions and example sweep files.

They are package data, found with ``importlib.resources``, so a wheel installed on a worker finds them
as well as a checkout does. ``search_spaces/`` at the top of a checkout is the source people edit; a
wheel carries a copy of it made at build time (``setup.py``), as ``ganbench/search_spaces/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGE = "ganbench"


def package_path(*parts: str) -> Path:
    """A file or folder inside the installed package (ganbench is never zipped, so this is a real path)."""
    return Path(str(resources.files(PACKAGE).joinpath(*parts)))


def checkout_root() -> Path | None:
    """The checkout ganbench runs from (an editable install), or None for an installed wheel."""
    root = package_path().parent
    return root if (root / "pyproject.toml").is_file() and (root / "search_spaces").is_dir() else None


def search_spaces() -> Path:
    """``search_spaces/``: the checkout's own folder where there is one (edits show at once), else the
    copy the wheel carries."""
    root = checkout_root()
    return root / "search_spaces" if root is not None else package_path("search_spaces")


def benchmarks_folder() -> Path:
    """The benchmark definitions, ``search_spaces/benchmarks/``."""
    return search_spaces() / "benchmarks"


def extractor_weights(name: str) -> Path:
    """Weights of an extractor that ships with ganbench (``lenet_digits``)."""
    return package_path("metrics", "weights", f"{name}.pt")


def shipped_file(path: str | Path) -> Path:
    """``path`` if it exists; else the same file among the shipped search spaces, so that README's paths
    (``search_spaces/quickstart.yaml``) also work where ganbench is installed from a wheel."""
    path = Path(path)
    if path.exists() or path.is_absolute():
        return path
    parts = path.parts[1:] if path.parts[:1] == ("search_spaces",) else path.parts
    shipped = search_spaces().joinpath(*parts)
    return shipped if shipped.is_file() else path
