"""Sessions and their events: the rows behind `merkle sessions` and `merkle tui`.

Only this module speaks the SQL of the `sessions` and `events` tables; the
event model, the writer and the readers live in `merkle.telemetry`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from merkle.errors import StoreError, UsageError
from merkle.store.database import Database


class SessionRow(NamedTuple):
    """One session as stored."""

    session_id: str
    command: str
    owner: str
    started_at_ns: int
    ended_at_ns: int | None
    outcome: str | None
    last_seq: int
    heartbeat_ns: int


class EventRow(NamedTuple):
    """One event as stored; `data` is the JSON text."""

    session_id: str
    seq: int
    ts: str
    type: str
    data: str


_SESSION_COLUMNS = (
    "session_id, command, owner, started_at_ns, ended_at_ns, outcome, last_seq, heartbeat_ns"
)


class EventStore:
    """Reads and writes sessions and events over one connection."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create_session(
        self, session_id: str, *, command: str, owner: str, started_at_ns: int
    ) -> bool:
        """Insert a session; False when the id is taken."""
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO sessions"
                    " (session_id, command, owner, started_at_ns, heartbeat_ns)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (session_id, command, owner, started_at_ns, started_at_ns),
                )
        except sqlite3.IntegrityError:
            return False
        except sqlite3.Error as error:
            raise StoreError(
                f"cannot record a session: {error}",
                hint="check that the workspace database is writable",
            ) from error
        return True

    def beat(self, session_id: str, now_ns: int) -> None:
        """Renew the session's heartbeat: its writer still runs."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET heartbeat_ns = MAX(heartbeat_ns, ?) WHERE session_id = ?",
                (now_ns, session_id),
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
        with self._db.transaction() as conn:
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", events)
            last: dict[str, int] = {}
            for event in events:
                last[event.session_id] = max(last.get(event.session_id, 0), event.seq)
            conn.executemany(
                "UPDATE sessions SET last_seq = MAX(last_seq, ?),"
                " heartbeat_ns = MAX(heartbeat_ns, ?) WHERE session_id = ?",
                [(seq, now_ns, session_id) for session_id, seq in last.items()],
            )
            if ended is not None:
                session_id, ended_at_ns, outcome = ended
                conn.execute(
                    "UPDATE sessions SET ended_at_ns = ?, outcome = ? WHERE session_id = ?",
                    (ended_at_ns, outcome, session_id),
                )

    def sessions(self, *, limit: int | None = None) -> list[SessionRow]:
        """Sessions, newest first."""
        rows = self._db.connection.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions"
            " ORDER BY started_at_ns DESC, session_id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
        return [SessionRow(*row) for row in rows]

    def session(self, session_id: str) -> SessionRow | None:
        """One session by its full id."""
        row = self._db.connection.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        return SessionRow(*row) if row is not None else None

    def find(self, prefix: str) -> SessionRow:
        """The one session whose id starts with `prefix`; a clear error otherwise."""
        if not prefix:
            raise UsageError("give a session id", hint="`merkle sessions list` shows them")
        rows = self._db.connection.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions"
            " WHERE session_id >= ? AND session_id < ? ORDER BY session_id LIMIT 6",
            (prefix, prefix + "\uffff"),
        ).fetchall()
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
        rows = self._db.connection.execute(
            "SELECT session_id, seq, ts, type, data FROM events"
            " WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (session_id, after_seq, limit),
        ).fetchall()
        return [EventRow(*row) for row in rows]

    def delete(self, session_ids: Iterable[str]) -> list[str]:
        """Delete ended sessions and their events; returns the ids deleted.

        A session that has not ended is never deleted, whatever the caller asks.
        """
        ids = list(session_ids)
        deleted: list[str] = []
        if not ids:
            return deleted
        try:
            with self._db.transaction() as conn:
                for session_id in ids:
                    ended = conn.execute(
                        "SELECT 1 FROM sessions WHERE session_id = ? AND ended_at_ns IS NOT NULL",
                        (session_id,),
                    ).fetchone()
                    if ended is None:
                        continue
                    conn.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
                    conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
                    deleted.append(session_id)
        except sqlite3.Error as error:
            raise StoreError(f"cannot prune sessions: {error}") from error
        return deleted
