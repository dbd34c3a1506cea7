"""One SQLite connection: statements and transactions, every driver error translated.

The repositories of the SQLite backend run their SQL through `SqliteConnection`
only, so no `sqlite3.Error` leaves the package: each becomes the `StoreError`
that says what went wrong with the file and what to do about it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any

from merkle.errors import (
    StoreBusy,
    StoreConflict,
    StoreCorrupt,
    StoreError,
    StoreReadOnly,
)

Parameters = Sequence[Any]

_DAMAGED_HINT = (
    "move the file aside (keep it: it may be recoverable), then run `merkle init` and"
    " `merkle scan` to start a new store; its frames would have to be generated again"
)


def translate(error: sqlite3.Error, location: str) -> StoreError:
    """The `StoreError` for a driver error on the database at `location`."""
    # The extended result code names the condition; the message alone is ambiguous.
    name = str(getattr(error, "sqlite_errorname", "") or "")
    text = str(error)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return StoreBusy(
            f"the database {location} is locked by another process ({text})",
            hint="another merkle command is writing to it; let it finish, then run this again",
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StoreCorrupt(f"the database {location} is damaged: {text}", hint=_DAMAGED_HINT)
    if name.startswith("SQLITE_READONLY"):
        return StoreReadOnly(
            f"the database {location} may only be read ({text})",
            hint="this command writes to the store: check the permissions of the file and"
            " of its directory, or run a command that only reads",
        )
    if name.startswith("SQLITE_FULL"):
        return StoreError(
            f"the disk that holds {location} is full",
            hint="free some space and run the command again; finished work is kept",
        )
    if isinstance(error, sqlite3.IntegrityError) or name.startswith("SQLITE_CONSTRAINT"):
        return StoreConflict(f"the database {location} refused a write: {text}")
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreError(
            f"cannot open the database {location}: {text}",
            hint="check that the file and its directory exist and that you may read them",
        )
    if name.startswith("SQLITE_IOERR"):
        return StoreError(
            f"cannot read or write the database {location}: {text}",
            hint="check the disk and the file system that hold it",
        )
    return StoreError(f"the database {location}: {text}")


class SqliteConnection:
    """A connection whose statements and transactions raise `StoreError`s only.

    `transaction()` takes the write lock at the start (`BEGIN IMMEDIATE`), so
    concurrent processes queue on the lock instead of failing half-way; inside
    a transaction, a nested one is a savepoint.
    """

    def __init__(self, raw: sqlite3.Connection, location: str) -> None:
        self.raw = raw
        self.location = location
        self._depth = 0

    def execute(self, sql: str, parameters: Parameters = ()) -> sqlite3.Cursor:
        """Run one statement; its cursor (fetch rows with `one`, `all` or `rows`)."""
        try:
            return self.raw.execute(sql, parameters)
        except sqlite3.Error as error:
            raise translate(error, self.location) from error

    def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        """Run one statement for each row of parameters."""
        try:
            self.raw.executemany(sql, rows)
        except sqlite3.Error as error:
            raise translate(error, self.location) from error

    def one(self, sql: str, parameters: Parameters = ()) -> Any:
        """The first row of a query, or None."""
        try:
            return self.raw.execute(sql, parameters).fetchone()
        except sqlite3.Error as error:
            raise translate(error, self.location) from error

    def all(self, sql: str, parameters: Parameters = ()) -> list[Any]:
        """Every row of a query."""
        try:
            return self.raw.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise translate(error, self.location) from error

    def rows(self, sql: str, parameters: Parameters = ()) -> Iterator[Any]:
        """The rows of a query as they are read (for scans of whole tables)."""
        try:
            yield from self.raw.execute(sql, parameters)
        except sqlite3.Error as error:
            raise translate(error, self.location) from error

    def transaction(self) -> _Transaction:
        """A write transaction, committed on success and rolled back on any error; a
        nested one is a savepoint of the outer."""
        return _Transaction(self)

    def close(self) -> None:
        """Close the connection."""
        with suppress(sqlite3.Error):
            self.raw.close()


class _Transaction:
    """`SqliteConnection.transaction()`: a plain class, not a generator, because the
    queue enters several per request."""

    __slots__ = ("_connection", "_depth")

    def __init__(self, connection: SqliteConnection) -> None:
        self._connection = connection
        self._depth = 0

    def __enter__(self) -> None:
        connection = self._connection
        self._depth = depth = connection._depth
        connection.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT merkle_{depth}")
        connection._depth = depth + 1

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        connection, depth = self._connection, self._depth
        connection._depth = depth
        if exc_type is not None:
            # SQLite may have rolled back already (a full disk, an I/O error).
            with suppress(sqlite3.Error):
                if depth == 0:
                    connection.raw.execute("ROLLBACK")
                else:
                    connection.raw.execute(f"ROLLBACK TO merkle_{depth}")
                    connection.raw.execute(f"RELEASE merkle_{depth}")
            return
        if depth:
            connection.execute(f"RELEASE merkle_{depth}")
            return
        try:
            connection.execute("COMMIT")
        except StoreError:
            with suppress(sqlite3.Error):
                connection.raw.execute("ROLLBACK")
            raise
