"""The SQLite backend: the embedded default store at `.merkle/merkle.db`."""

from merkle.store.sqlite.backend import BUSY_TIMEOUT_MS, SqliteBackend, open_sqlite

__all__ = ["BUSY_TIMEOUT_MS", "SqliteBackend", "open_sqlite"]
