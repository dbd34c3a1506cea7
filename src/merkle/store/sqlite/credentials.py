"""Provider credential checks in SQLite: who probes, and what the probe found."""

from __future__ import annotations

from merkle.store.records import ProviderCheck
from merkle.store.sqlite.connection import SqliteConnection

_COLUMNS = "provider_name, fingerprint, state, owner, until_ns, message, hint"


class SqliteCredentials:
    """One row per provider: its configuration's fingerprint and what is known of it."""

    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    def check(self, provider_name: str) -> ProviderCheck | None:
        """What is known of `provider_name`'s credentials, if anything."""
        row = self._db.one(
            f"SELECT {_COLUMNS} FROM provider_checks WHERE provider_name = ?", (provider_name,)
        )
        if row is None:
            return None
        return ProviderCheck(**dict(zip(_COLUMNS.split(", "), row, strict=True)))

    def claim_probe(
        self, provider_name: str, fingerprint: str, *, owner: str, now_ns: int, until_ns: int
    ) -> bool:
        """Become the one process that checks these credentials: when nothing is known
        of this fingerprint, or its probe's lease lapsed. Whether it was claimed."""
        with self._db.transaction():
            cursor = self._db.execute(
                f"INSERT INTO provider_checks ({_COLUMNS})"
                " VALUES (?, ?, 'probing', ?, ?, NULL, NULL)"
                " ON CONFLICT (provider_name) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " state = 'probing', owner = excluded.owner, until_ns = excluded.until_ns,"
                " message = NULL, hint = NULL"
                " WHERE provider_checks.fingerprint != excluded.fingerprint"
                " OR (provider_checks.state = 'probing' AND provider_checks.until_ns <= ?)",
                (provider_name, fingerprint, owner, until_ns, now_ns),
            )
        return bool(cursor.rowcount)

    def settle(
        self,
        provider_name: str,
        fingerprint: str,
        *,
        state: str,
        message: str | None = None,
        hint: str | None = None,
    ) -> None:
        """Record what a call under `fingerprint` found (`verified` or `rejected`)."""
        with self._db.transaction():
            self._db.execute(
                f"INSERT INTO provider_checks ({_COLUMNS}) VALUES (?, ?, ?, NULL, NULL, ?, ?)"
                " ON CONFLICT (provider_name) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " state = excluded.state, owner = NULL, until_ns = NULL,"
                " message = excluded.message, hint = excluded.hint",
                (provider_name, fingerprint, state, message, hint),
            )

    def release(self, provider_name: str, *, owner: str) -> None:
        """Give up a probe that found nothing either way (a timeout, a 500)."""
        with self._db.transaction():
            self._db.execute(
                "DELETE FROM provider_checks WHERE provider_name = ? AND owner = ?"
                " AND state = 'probing'",
                (provider_name, owner),
            )
