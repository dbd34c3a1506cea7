"""The SQLite database of a workspace: connection settings, transactions, migrations."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from merkle.errors import StoreError
from merkle.store.migrations import LATEST_VERSION, MIGRATIONS

BUSY_TIMEOUT_MS = 10_000


class Database:
    """One connection to a workspace database, migrated to the latest schema on open.

    Writes go through `transaction()`, which takes the write lock at the start
    (`BEGIN IMMEDIATE`) so that concurrent processes queue on the lock instead
    of failing half-way through.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Database:
        """Open (creating if needed) the database at `path` and migrate it."""
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as error:
            raise StoreError(
                f"cannot open the database {path}: {error}",
                hint="check that the file is a merkle database and that you may write to it",
            ) from error
        database = cls(connection, path)
        try:
            database.migrate()
        except BaseException:
            connection.close()
            raise
        return database

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def schema_version(self) -> int:
        """The newest migration applied to this database (0 for a new one)."""
        row = self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if row is None:
            return 0
        version = self.connection.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(version[0] or 0)

    def migrate(self) -> None:
        """Apply every migration newer than the database's version, each in its transaction."""
        try:
            with self.transaction() as conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied_at_ns INTEGER NOT NULL)"
                )
            current = self.schema_version()
            if current > LATEST_VERSION:
                raise StoreError(
                    f"the database {self.path} has schema version {current}, newer than"
                    f" this merkle knows ({LATEST_VERSION})",
                    hint="upgrade merkle to the version that wrote this workspace",
                )
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                with self.transaction() as conn:
                    for statement in migration.statements:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at_ns)"
                        " VALUES (?, ?, ?)",
                        (migration.version, migration.name, time.time_ns()),
                    )
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"cannot read the database {self.path}: {error}",
                hint="the file may be damaged; move it aside, then run `merkle init`"
                " and `merkle scan`",
            ) from error
