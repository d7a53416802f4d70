"""The repository's promises: CI runs README's test command verbatim, and the top level is complete."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0].strip() for b in readme.split("```bash\n")[1:]]
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_top_level_layout():
    for name in ("ganbench", "search_spaces", "tests", "reports", "pyproject.toml", "README.md", ".ci/run"):
        assert (ROOT / name).exists(), name
