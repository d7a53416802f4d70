"""The repository's promises: CI runs README's test command verbatim, and the top level is complete."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0].strip() for b in readme.split("```bash\n")[1:]]
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_top_level_holds_what_the_brief_promises_and_nothing_else():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    top = {line.split("/")[0] for line in tracked.splitlines()}
    assert top == {".ci", ".gitignore", "MANIFEST.in", "README.md", "ganbench", "pyproject.toml", "reports",
                   "search_spaces", "setup.py", "tests"}


def test_tests_mirror_the_package():
    subpackages = {p.parent.name for p in (ROOT / "ganbench").glob("*/__init__.py")}
    mirrored = {p.parent.name for p in (ROOT / "tests").glob("*/__init__.py")}
    assert subpackages - mirrored == set()


def test_committed_reports_hold_no_machine_paths():
    """A report must reproduce anywhere: no absolute path of the machine that built it."""
    machine_path = re.compile(r"(?<![\w.])/(?:work|tmp|home|root|Users|mnt|opt|var)/")
    found = [f"{path.relative_to(ROOT)}:{number}" for path in (ROOT / "reports").rglob("*")
             if path.suffix in (".md", ".html", ".json", ".csv", ".txt", ".py") and path.is_file()
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
             if machine_path.search(line)]
    assert found == []
