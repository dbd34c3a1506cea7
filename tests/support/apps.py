"""The app over a test workspace: what tests build through, as the command line does.

`app_of` is a `MerkleApp` with the built-in configuration (or the settings a
test gives); `scan` scans a workspace through it; `backend` is a connection
to a workspace's store, for tests that read or write the store's records.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from merkle.app import MerkleApp
from merkle.config import Settings
from merkle.store import StorageBackend, open_store
from merkle.workspace.layout import Workspace
from merkle.workspace.scan import ScanResult, scan_workspace


def app_of(workspace: Workspace, settings: Settings | None = None) -> MerkleApp:
    """The app of `workspace`, with `settings` (default: the built-in configuration)."""
    return MerkleApp(workspace, settings or Settings.defaults())


def scan(workspace: Workspace, **options: Any) -> ScanResult:
    """Scan `workspace` into its store, as `merkle scan` does (`options`: the progress,
    sink and clock of `scan_workspace`)."""
    with backend(workspace) as store:
        return scan_workspace(workspace, store, **options)


@contextmanager
def backend(where: Workspace | Path) -> Iterator[StorageBackend]:
    """A connection to the store of a workspace (or the database file at a path)."""
    path = where.database_path if isinstance(where, Workspace) else where
    store = open_store(path, create=not isinstance(where, Workspace))
    try:
        yield store
    finally:
        store.close()
