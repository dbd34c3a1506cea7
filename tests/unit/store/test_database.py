"""The workspace database: settings, migrations, and refusal of unknown schemas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from merkle.store.migrations import LATEST_VERSION, MIGRATIONS

from merkle.errors import StoreError
from merkle.store import Database


def test_a_new_database_is_in_wal_mode_with_every_migration_recorded(tmp_path: Path) -> None:
    with Database.open(tmp_path / "m.db") as database:
        conn = database.connection
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
        assert database.schema_version() == LATEST_VERSION
    assert versions == [m.version for m in MIGRATIONS]


def test_migration_numbers_are_consecutive_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    Database.open(tmp_path / "m.db").close()
    with Database.open(tmp_path / "m.db") as database:
        count = database.connection.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    assert count == len(MIGRATIONS)


def test_a_database_from_a_newer_merkle_is_refused_with_a_hint(tmp_path: Path) -> None:
    Database.open(tmp_path / "m.db").close()
    conn = sqlite3.connect(tmp_path / "m.db")
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at_ns) VALUES (?, 'future', 0)",
        (LATEST_VERSION + 1,),
    )
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as caught:
        Database.open(tmp_path / "m.db")
    assert "newer" in caught.value.message
    assert caught.value.hint


def test_a_file_that_is_not_a_database_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as caught:
        Database.open(path)
    assert caught.value.hint


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    with Database.open(tmp_path / "m.db") as database:
        with pytest.raises(RuntimeError), database.transaction() as conn:
            conn.execute(
                "INSERT INTO nodes (node_id, path, node_type, size_bytes, content_hash)"
                " VALUES ('x', 'a', 'file', 1, 'h')"
            )
            raise RuntimeError("boom")
        assert database.connection.execute("SELECT COUNT(*) FROM nodes").fetchone()[0] == 0
