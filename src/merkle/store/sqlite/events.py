"""Sessions and their events in SQLite: the rows behind `merkle sessions` and `merkle tui`.

The event model, the writer and the readers live in `merkle.telemetry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from merkle.errors import UsageError
from merkle.store.records import EventRow, SessionRow
from merkle.store.sqlite.connection import SqliteConnection

_SESSION_COLUMNS = (
    "session_id, command, owner, started_at_ns, ended_at_ns, outcome, last_seq, heartbeat_ns"
)


class SqliteEvents:
    """Reads and writes sessions and events over one connection."""

    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    def create_session(
        self, session_id: str, *, command: str, owner: str, started_at_ns: int
    ) -> bool:
        """Insert a session; False when the id is taken."""
        with self._db.transaction():
            cursor = self._db.execute(
                "INSERT INTO sessions (session_id, command, owner, started_at_ns, heartbeat_ns)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
                (session_id, command, owner, started_at_ns, started_at_ns),
            )
        return cursor.rowcount == 1

    def beat(self, session_id: str, now_ns: int) -> None:
        """Renew the session's heartbeat: its writer still runs."""
        with self._db.transaction():
            self._db.execute(
                "UPDATE sessions SET heartbeat_ns = ? WHERE session_id = ? AND heartbeat_ns < ?",
                (now_ns, session_id, now_ns),
            )

    def append(
        self,
        events: Sequence[EventRow],
        *,
        now_ns: int,
        ended: tuple[str, int, str] | None = None,
    ) -> None:
        """Commit `events` (one session's, in seq order) in one transaction, renewing
        the session's heartbeat.

        `ended` is `(session_id, ended_at_ns, outcome)` when the batch closes
        the session.
        """
        last: dict[str, int] = {}
        for event in events:
            last[event.session_id] = max(last.get(event.session_id, 0), event.seq)
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO events (session_id, seq, ts, type, data) VALUES (?, ?, ?, ?, ?)",
                events,
            )
            # Neither number ever moves back, whatever order batches commit in.
            self._db.executemany(
                "UPDATE sessions SET"
                " last_seq = CASE WHEN last_seq < ? THEN ? ELSE last_seq END,"
                " heartbeat_ns = CASE WHEN heartbeat_ns < ? THEN ? ELSE heartbeat_ns END"
                " WHERE session_id = ?",
                [(seq, seq, now_ns, now_ns, session_id) for session_id, seq in last.items()],
            )
            if ended is not None:
                session_id, ended_at_ns, outcome = ended
                self._db.execute(
                    "UPDATE sessions SET ended_at_ns = ?, outcome = ? WHERE session_id = ?",
                    (ended_at_ns, outcome, session_id),
                )

    def sessions(self, *, limit: int | None = None) -> list[SessionRow]:
        """Sessions, newest first."""
        rows = self._db.all(
            f"SELECT {_SESSION_COLUMNS} FROM sessions"
            " ORDER BY started_at_ns DESC, session_id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [SessionRow(*row) for row in rows]

    def session(self, session_id: str) -> SessionRow | None:
        """One session by its full id."""
        row = self._db.one(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
        )
        return SessionRow(*row) if row is not None else None

    def find(self, prefix: str) -> SessionRow:
        """The one session whose id starts with `prefix`; a clear error otherwise."""
        if not prefix:
            raise UsageError("give a session id", hint="`merkle sessions list` shows them")
        rows = self._db.all(
            f"SELECT {_SESSION_COLUMNS} FROM sessions"
            " WHERE session_id >= ? AND session_id < ? ORDER BY session_id LIMIT 6",
            (prefix, prefix + "\uffff"),
        )
        if not rows:
            raise UsageError(
                f"no session {prefix}", hint="`merkle sessions list` shows the stored sessions"
            )
        if len(rows) > 1:
            ids = ", ".join(row[0] for row in rows[:5])
            raise UsageError(
                f"{prefix} matches several sessions ({ids})", hint="give more of the id"
            )
        return SessionRow(*rows[0])

    def events(self, session_id: str, *, after_seq: int = 0, limit: int = -1) -> list[EventRow]:
        """A session's events with seq > `after_seq`, in seq order."""
        rows = self._db.all(
            "SELECT session_id, seq, ts, type, data FROM events"
            " WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (session_id, after_seq, limit),
        )
        return [EventRow(*row) for row in rows]

    def delete(self, session_ids: Iterable[str]) -> list[str]:
        """Delete ended sessions and their events; returns the ids deleted.

        A session that has not ended is never deleted, whatever the caller asks.
        """
        deleted: list[str] = []
        ids = list(session_ids)
        if not ids:
            return deleted
        with self._db.transaction():
            for session_id in ids:
                ended = self._db.one(
                    "SELECT 1 FROM sessions WHERE session_id = ? AND ended_at_ns IS NOT NULL",
                    (session_id,),
                )
                if ended is None:
                    continue
                self._db.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
                self._db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
                deleted.append(session_id)
        return deleted
