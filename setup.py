"""Build hook: the wheel carries a copy of ``search_spaces/`` as package data.

``search_spaces/`` at the top of the checkout stays the one source people edit (README's paths point
there); a wheel has no checkout around it, so ``build_py`` copies the folder into the built package as
``ganbench/search_spaces/``, where ``ganbench.resources`` finds it with ``importlib.resources``.
Everything else about the build lives in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / "search_spaces"


class BuildPyWithSearchSpaces(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folder itself
            return
        target = Path(self.build_lib) / "ganbench" / "search_spaces"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithSearchSpaces})
