"""A sweep's own state: the stage each study reached, each value's best config and the sweep file's hash.

It lives under ``--storage`` beside Tune's experiments (``<storage>/ganbench-sweeps/<name>.json``), so a
driver restarted on another machine or with another ``GANBENCH_HOME`` resumes given the same ``--storage``
and ``--tracking-uri``, and the ``--name`` guard reads the state of *that* storage. A shared path or any
URI pyarrow supports (``s3://``, ``gs://``) works. Optuna has no object-store backend: its studies default
to a sqlite file beside the state where the storage is a path, and need ``searcher.storage`` (an RDB URL)
where it is a URI.

ganbench 0.1 kept the state in ``$GANBENCH_HOME/sweeps/<name>.json`` (no ``format`` key) with its Ray results
under ``$GANBENCH_HOME/ray_results``; such a state is moved under the storage on first sight.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pyarrow import fs as pafs

from ganbench import __version__
from ganbench.errors import ConfigError, GanbenchError
from ganbench.tracking.store import home

FORMAT = 2          # 1: ganbench 0.1 (in GANBENCH_HOME); 2: under --storage, with the Optuna URL it used
FOLDER = "ganbench-sweeps"


def storage_root(option: str | None) -> str:
    """``--storage`` as Tune takes it: an absolute path or a URI; by default ``$GANBENCH_HOME/ray_results``. A
    relative path is taken from the working folder, as every command line does (a report prints the paths under
    its checkout relative, and its command must run as printed); Tune itself needs it absolute."""
    if option is None:
        return str(home() / "ray_results")
    if "://" in option:
        return option
    if not option:
        raise ConfigError("--storage", "is empty: give a path or a URI (s3://, gs://, ...)")
    return os.path.abspath(option)


def is_path(storage: str) -> bool:
    return "://" not in storage or storage.startswith("file://")


def join(location: str, *parts: str) -> str:
    """``location``/parts, for a path or a URI (a URI's query, such as ``?endpoint_override=``, stays last)."""
    if is_path(location):
        return "/".join([location.rstrip("/"), *parts])
    split = urlsplit(location)
    return split._replace(path="/".join([split.path.rstrip("/"), *parts])).geturl()


def filesystem_of(location: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a path or URI, and the location as that filesystem names it."""
    if is_path(location):
        return pafs.LocalFileSystem(), location.removeprefix("file://")
    return pafs.FileSystem.from_uri(location)


def _legacy_path(name: str) -> Path:
    return home() / "sweeps" / f"{name}.json"


class SweepState:
    """The state file of sweep ``name`` under ``storage``."""

    def __init__(self, storage: str, name: str) -> None:
        self.storage, self.name = storage, name
        self._filesystem: pafs.FileSystem | None = None

    @property
    def filesystem(self) -> pafs.FileSystem:
        """Opened on first use: an object store's (pyarrow resolves its region over the network)."""
        if self._filesystem is None:
            try:
                self._filesystem, _ = filesystem_of(self.storage)
            except OSError as exc:
                raise GanbenchError(f"--storage {self.storage}: {str(exc).strip().splitlines()[0]}") from exc
        return self._filesystem

    @property
    def folder(self) -> str:
        """The state's folder as the filesystem names it: a local path, or ``bucket/prefix/...``."""
        if is_path(self.storage):
            root = self.storage.removeprefix("file://")
        else:
            parts = urlsplit(self.storage)
            root = f"{parts.netloc}{parts.path}"
        return f"{root.rstrip('/')}/{FOLDER}"

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}.json"

    @property
    def where(self) -> str:
        return f"{self.storage.rstrip('/')}/{FOLDER}/{self.name}.json"

    def default_optuna_url(self) -> str | None:
        """sqlite beside the state where the storage is a path (local, or shared by every node); None for URIs."""
        return f"sqlite:///{self.folder}/{self.name}.optuna.db" if is_path(self.storage) else None

    def load(self) -> dict[str, Any] | None:
        try:
            found = self.filesystem.get_file_info(self.path).type == pafs.FileType.File
            if found:
                with self.filesystem.open_input_stream(self.path) as handle:
                    state = json.loads(handle.read().decode())
        except OSError as exc:
            raise GanbenchError(f"--storage {self.storage}: {str(exc).strip().splitlines()[0]}") from exc
        if found:
            if state.get("format", 1) > FORMAT:
                raise GanbenchError(f"sweep {self.name!r}: its state ({self.where}) was written by ganbench "
                                    f"{state.get('ganbench_version', '?')} (state format {state['format']}); this is "
                                    f"ganbench {__version__} (format {FORMAT}): upgrade ganbench to resume or report it")
            return state
        return self._migrate()

    def _migrate(self) -> dict[str, Any] | None:
        """A ganbench 0.1 state in GANBENCH_HOME, for the storage it used (the default): moved here."""
        legacy = _legacy_path(self.name)
        if not legacy.is_file() or self.storage != storage_root(None):
            return None
        state = json.loads(legacy.read_text())
        state.update(format=FORMAT, migrated_from=str(legacy),
                     optuna_url=state.get("optuna_url") or f"sqlite:///{home() / 'mlflow' / 'optuna' / f'{self.name}.db'}")
        self.save(state)
        legacy.unlink()
        return state

    def save(self, state: dict[str, Any]) -> None:
        state = {**state, "format": FORMAT, "ganbench_version": __version__, "storage": self.storage}
        data = json.dumps(state, indent=2).encode()
        self.filesystem.create_dir(self.folder, recursive=True)
        if isinstance(self.filesystem, pafs.LocalFileSystem):  # a killed driver never leaves half a file
            partial = self.path + ".partial"
            with self.filesystem.open_output_stream(partial) as handle:
                handle.write(data)
            self.filesystem.move(partial, self.path)
        else:  # an object store writes an object whole or not at all
            with self.filesystem.open_output_stream(self.path) as handle:
                handle.write(data)
