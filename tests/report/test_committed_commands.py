"""Every command a committed report prints runs as printed (issue 23, item 7).

A built report (a folder under reports/ with README.md and index.html) prints commands as code: how it was built
(``ganbench report NAME``), the benchmark it reproduces (``ganbench reproduce NAME --budget B``) and its
"Reproduce" line (the sweep's own command). Each runs here from the repository root in its planning mode:
``sweep`` with ``--plan``, ``reproduce`` with ``--dry-run``. ``report`` has no planning mode: its arguments are
parsed and must name the report's own sweep.

A dry run trains on fake data and reads none of ``--storage``, ``--tracking-uri`` or ``--optuna-storage``, so
the test also checks those as the real run would before it starts (``storage_root``, ``rdb_url``): the medium
reports' ``--storage runs/medium/ray`` failed there, as printed, until relative paths were taken from the working
folder.
"""

from __future__ import annotations

import html
import re
import shlex
from pathlib import Path

import pytest

from ganbench.cli.main import build_parser, main, parse
from ganbench.sweep.spec import rdb_url
from ganbench.sweep.state import storage_root

ROOT = Path(__file__).resolve().parents[2]
REPORTS = sorted(p.parent for p in (ROOT / "reports").rglob("index.html") if (p.parent / "README.md").is_file())
CODE = {"README.md": re.compile(r"`(ganbench [^`]+)`"), "index.html": re.compile(r"<code>(ganbench [^<]+)</code>")}
PLANNING = {"sweep": "--plan", "reproduce": "--dry-run"}


def printed_commands(folder: Path) -> dict[str, list[str]]:
    """Each command the report prints -> the files that print it."""
    found: dict[str, list[str]] = {}
    for name, pattern in CODE.items():
        for command in pattern.findall((folder / name).read_text()):
            found.setdefault(" ".join(html.unescape(command).split()), []).append(
                str((folder / name).relative_to(ROOT)))
    return found


COMMANDS = {command: (folder, files) for folder in REPORTS for command, files in printed_commands(folder).items()}


def test_every_built_report_prints_its_commands_in_both_pages():
    assert REPORTS, "no built report under reports/"
    for folder in REPORTS:
        commands = printed_commands(folder)
        assert any(c.startswith(("ganbench sweep", "ganbench reproduce")) for c in commands), folder
        # The HTML page is the README rendered: the same commands, or one page is stale.
        assert all(len(files) == 2 for files in commands.values()), (folder, commands)


def check_cluster_options(args) -> None:
    """What the real run checks before it starts and a dry run never reads."""
    storage_root(args.storage)
    rdb_url(args.optuna_storage, "--optuna-storage")


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=lambda c: c.removeprefix("ganbench ")[:60])
def test_a_printed_command_runs_as_printed(command, monkeypatch, tmp_path):
    folder, files = COMMANDS[command]
    words = shlex.split(command)
    assert words[0] == "ganbench", command
    args = parse(build_parser(), words[1:])  # as the CLI parses: exits 2 on anything it does not know
    monkeypatch.chdir(ROOT)  # the commands name files relative to the checkout, as a reader types them there
    monkeypatch.setenv("GANBENCH_HOME", str(tmp_path / "home"))  # nothing a check writes lands in the reader's home
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    if args.command == "report":
        assert args.sweep == folder.name, f"{files}: `{command}` names another sweep than this report's"
        return
    assert args.command in PLANNING, f"{files}: `{command}` has no planning mode to check it with"
    check_cluster_options(args)
    assert main([*words[1:], PLANNING[args.command]]) == 0, f"{files}: `{command}` fails as printed"
