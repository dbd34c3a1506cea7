"""The SQLite backend: the embedded default store, one file per workspace.

Opening checks the file before SQLite touches it (a directory, an empty
file and a missing one are each named as such), falls back to reading only
when the file or its directory may not be written, and migrates the schema
only when it is behind, so a read needs no write lock.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import AbstractContextManager
from pathlib import Path

from merkle.errors import StoreCorrupt, StoreError, StoreReadOnly
from merkle.store.sqlite.connection import SqliteConnection, translate
from merkle.store.sqlite.credentials import SqliteCredentials
from merkle.store.sqlite.egress import SqliteEgress
from merkle.store.sqlite.events import SqliteEvents
from merkle.store.sqlite.frames import SqliteFrames
from merkle.store.sqlite.migrations import LATEST_VERSION, MIGRATIONS
from merkle.store.sqlite.nodes import SqliteNodes
from merkle.store.sqlite.queue import SqliteQueue

BUSY_TIMEOUT_MS = 10_000
_FRESH_START_HINT = "move it aside, then run `merkle init` and `merkle scan` to start a new store"


class SqliteBackend:
    """A `StorageBackend` over one SQLite connection."""

    def __init__(self, connection: SqliteConnection, path: Path, *, read_only: bool) -> None:
        self.connection = connection
        self.path = path
        self.read_only = read_only
        self._nodes = SqliteNodes(connection)
        self._frames = SqliteFrames(connection)
        self._queue = SqliteQueue(connection)
        self._events = SqliteEvents(connection)
        self._egress = SqliteEgress(connection)
        self._credentials = SqliteCredentials(connection)

    @property
    def location(self) -> str:
        """The database file."""
        return str(self.path)

    @property
    def nodes(self) -> SqliteNodes:
        """Node records, the current tree and the scans."""
        return self._nodes

    @property
    def frames(self) -> SqliteFrames:
        """Frames and heads."""
        return self._frames

    @property
    def queue(self) -> SqliteQueue:
        """The frame generation queue."""
        return self._queue

    @property
    def events(self) -> SqliteEvents:
        """Sessions and events."""
        return self._events

    @property
    def egress(self) -> SqliteEgress:
        """The egress ledger."""
        return self._egress

    @property
    def credentials(self) -> SqliteCredentials:
        """What is known of each provider's credentials."""
        return self._credentials

    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction around the calls made inside it (nested: a savepoint)."""
        return self.connection.transaction()

    def change_marker(self) -> int:
        """SQLite's `data_version`: it changes when another connection commits."""
        return int(self.connection.one("PRAGMA data_version")[0])

    def integrity_problems(self) -> list[str]:
        """What SQLite's own consistency check finds wrong with the database file."""
        rows = self.connection.all("PRAGMA quick_check")
        return [str(row[0]) for row in rows if row[0] != "ok"]

    def schema_version(self) -> int:
        """The newest migration applied to this database (0 for a new one)."""
        row = self.connection.one(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
        if row is None:
            return 0
        version = self.connection.one("SELECT MAX(version) FROM schema_migrations")
        return int(version[0] or 0)

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> SqliteBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_file(path: Path, *, create: bool) -> None:
    """Refuse what SQLite would misread: a directory, an empty file, a missing one."""
    if path.is_dir():
        raise StoreError(
            f"the database path {path} is a directory, not a database file",
            hint=f"move the directory aside; {_FRESH_START_HINT}",
        )
    if not path.exists():
        if not create:
            raise StoreError(
                f"the database {path} does not exist",
                hint="run `merkle init` in the workspace to create it",
            )
        return
    if path.stat().st_size == 0:
        # SQLite would take an empty file for a new database and start it afresh,
        # hiding that the store was lost (a truncation by a full disk, a bad copy).
        raise StoreCorrupt(
            f"the database {path} is empty (0 bytes): the store it held is gone",
            hint=f"restore it from a backup, or {_FRESH_START_HINT}",
        )


def _may_write(path: Path) -> bool:
    directory = path.parent
    writable_file = not path.exists() or os.access(path, os.W_OK)
    return writable_file and os.access(directory, os.W_OK)


def _connect(path: Path, *, busy_timeout_ms: int, read_only: bool) -> sqlite3.Connection:
    if not read_only:
        raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    else:
        # A WAL database in a directory that may not be written can only be read
        # as immutable: its shared-memory file cannot be created.
        mode = "ro" if os.access(path.parent, os.W_OK) else "ro&immutable=1"
        raw = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode={mode}",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
    raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    if not read_only:
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
    raw.execute("PRAGMA foreign_keys = ON")
    return raw


def open_sqlite(
    path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, create: bool = False
) -> SqliteBackend:
    """Open the database at `path`, migrated to the latest schema.

    With `create`, a missing file is created; otherwise it must exist. A file
    that may not be written is opened for reading only: reads work, writes
    raise `StoreReadOnly`.
    """
    _check_file(path, create=create)
    read_only = not _may_write(path)
    try:
        raw = _connect(path, busy_timeout_ms=busy_timeout_ms, read_only=read_only)
    except sqlite3.Error as error:
        raise translate(error, str(path)) from error
    backend = SqliteBackend(SqliteConnection(raw, str(path)), path, read_only=read_only)
    try:
        _migrate(backend)
    except BaseException:
        backend.close()
        raise
    return backend


def _migrate(backend: SqliteBackend) -> None:
    """Apply every migration newer than the database's version, each in its transaction."""
    current = backend.schema_version()
    if current > LATEST_VERSION:
        raise StoreError(
            f"the database {backend.path} has schema version {current}, newer than"
            f" this merkle knows ({LATEST_VERSION})",
            hint="upgrade merkle to the version that wrote this workspace",
        )
    if current == LATEST_VERSION:
        return
    if backend.read_only:
        raise StoreReadOnly(
            f"the database {backend.path} needs an upgrade of its schema"
            f" (version {current} to {LATEST_VERSION}) and may only be read",
            hint="run any merkle command once with write access to the file and its directory",
        )
    connection = backend.connection
    with connection.transaction():
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at_ns BIGINT NOT NULL)"
        )
    # Another process may have migrated meanwhile: read the version under the lock.
    for migration in MIGRATIONS:
        with connection.transaction():
            if migration.version <= backend.schema_version():
                continue
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_migrations (version, name, applied_at_ns) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time_ns()),
            )
