"""The workspace database: settings, migrations, and refusal of unknown schemas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from merkle.errors import StoreError
from merkle.store import open_store
from merkle.store.sqlite import SqliteBackend
from merkle.store.sqlite.migrations import LATEST_VERSION, MIGRATIONS


def open_sqlite_store(path: Path, *, create: bool = False) -> SqliteBackend:
    """The SQLite backend of the store at `path`."""
    store = open_store(path, create=create)
    assert isinstance(store, SqliteBackend)
    return store


def test_a_new_database_is_in_wal_mode_with_every_migration_recorded(tmp_path: Path) -> None:
    with open_sqlite_store(tmp_path / "m.db", create=True) as database:
        conn = database.connection.raw
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
        assert database.schema_version() == LATEST_VERSION
    assert versions == [m.version for m in MIGRATIONS]


def test_migration_numbers_are_consecutive_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    open_sqlite_store(tmp_path / "m.db", create=True).close()
    with open_sqlite_store(tmp_path / "m.db") as database:
        count = database.connection.raw.execute(
            "SELECT COUNT(*) FROM schema_migrations"
        ).fetchone()[0]
    assert count == len(MIGRATIONS)


def test_a_database_from_a_newer_merkle_is_refused_with_a_hint(tmp_path: Path) -> None:
    open_sqlite_store(tmp_path / "m.db", create=True).close()
    conn = sqlite3.connect(tmp_path / "m.db")
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at_ns) VALUES (?, 'future', 0)",
        (LATEST_VERSION + 1,),
    )
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as caught:
        open_store(tmp_path / "m.db")
    assert "newer" in caught.value.message
    assert caught.value.hint


def test_a_file_that_is_not_a_database_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as caught:
        open_store(path)
    assert caught.value.hint


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    with open_sqlite_store(tmp_path / "m.db", create=True) as database:
        with pytest.raises(RuntimeError), database.transaction():
            database.connection.execute(
                "INSERT INTO nodes (node_id, path, node_type, size_bytes, content_hash)"
                " VALUES ('x', 'a', 'file', 1, 'h')"
            )
            raise RuntimeError("boom")
        assert database.connection.raw.execute("SELECT COUNT(*) FROM nodes").fetchone()[0] == 0
