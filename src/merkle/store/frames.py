"""FrameStorage and HeadIndex: append-only frames and the head of each key."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from merkle.store.database import Database
from merkle.store.records import Frame, Head

_FRAME_COLUMNS = "frame_id, node_id, agent_id, frame_type, content, metadata, created_at_ns"


def _frame_from_row(row: tuple[Any, ...]) -> Frame:
    frame_id, node_id, agent_id, frame_type, content, metadata, created_at_ns = row
    return Frame(
        frame_id=frame_id,
        node_id=node_id,
        agent_id=agent_id,
        frame_type=frame_type,
        content=content,
        metadata_json=metadata,
        created_at_ns=created_at_ns,
    )


def _head_from_row(row: tuple[Any, ...]) -> Head:
    node_id, agent_id, frame_type, frame_id, created_at_ns = row
    return Head(
        node_id=node_id,
        agent_id=agent_id,
        frame_type=frame_type,
        frame_id=frame_id,
        created_at_ns=created_at_ns,
    )


class HeadIndex:
    """The head of each `(node_id, agent_id, frame_type)` key."""

    def __init__(self, database: Database) -> None:
        self._db = database

    @staticmethod
    def advance(conn: sqlite3.Connection, frame: Frame) -> None:
        """Point the frame's key at it, unless the head is already a newer frame.

        Runs inside the caller's transaction.
        """
        conn.execute(
            "INSERT INTO heads (node_id, agent_id, frame_type, frame_id, created_at_ns)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id, agent_id, frame_type) DO UPDATE"
            " SET frame_id = excluded.frame_id, created_at_ns = excluded.created_at_ns"
            " WHERE excluded.created_at_ns >= heads.created_at_ns",
            (frame.node_id, frame.agent_id, frame.frame_type, frame.frame_id, frame.created_at_ns),
        )

    def get(self, node_id: str, agent_id: str, frame_type: str) -> Head | None:
        """The head of a key, if it has one."""
        row = self._db.connection.execute(
            "SELECT node_id, agent_id, frame_type, frame_id, created_at_ns FROM heads"
            " WHERE node_id = ? AND agent_id = ? AND frame_type = ?",
            (node_id, agent_id, frame_type),
        ).fetchone()
        return None if row is None else _head_from_row(row)

    def iter_heads(self) -> Iterator[Head]:
        """Every head."""
        rows = self._db.connection.execute(
            "SELECT node_id, agent_id, frame_type, frame_id, created_at_ns FROM heads"
        )
        yield from map(_head_from_row, rows)

    def count(self) -> int:
        """How many keys have a head."""
        return int(self._db.connection.execute("SELECT COUNT(*) FROM heads").fetchone()[0])


class FrameStorage:
    """Append-only frame records, written together with their head."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def append(self, frame: Frame) -> bool:
        """Store `frame` and advance its head, in one transaction.

        Returns False, writing nothing, when a frame with this id is already stored.
        """
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO frames ({_FRAME_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (frame_id) DO NOTHING",
                (
                    frame.frame_id,
                    frame.node_id,
                    frame.agent_id,
                    frame.frame_type,
                    frame.content,
                    frame.metadata_json,
                    frame.created_at_ns,
                ),
            )
            if cursor.rowcount == 0:
                return False
            HeadIndex.advance(conn, frame)
        return True

    def get(self, frame_id: str) -> Frame | None:
        """The frame with this id, if stored."""
        row = self._db.connection.execute(
            f"SELECT {_FRAME_COLUMNS} FROM frames WHERE frame_id = ?", (frame_id,)
        ).fetchone()
        return None if row is None else _frame_from_row(row)

    def head_frame(self, node_id: str, agent_id: str, frame_type: str) -> Frame | None:
        """The frame the key's head points at, if any."""
        row = self._db.connection.execute(
            f"SELECT {', '.join('f.' + c for c in _FRAME_COLUMNS.split(', '))}"
            " FROM heads h JOIN frames f ON f.frame_id = h.frame_id"
            " WHERE h.node_id = ? AND h.agent_id = ? AND h.frame_type = ?",
            (node_id, agent_id, frame_type),
        ).fetchone()
        return None if row is None else _frame_from_row(row)

    def history(self, path: str, agent_id: str, frame_type: str) -> list[Frame]:
        """Every frame ever written for `path`, across its node ids, newest first."""
        rows = self._db.connection.execute(
            f"SELECT {', '.join('f.' + c for c in _FRAME_COLUMNS.split(', '))}"
            " FROM frames f JOIN nodes n ON n.node_id = f.node_id"
            " WHERE n.path = ? AND f.agent_id = ? AND f.frame_type = ?"
            " ORDER BY f.created_at_ns DESC, f.rowid DESC",
            (path, agent_id, frame_type),
        )
        return [_frame_from_row(row) for row in rows]

    def iter_frames(self) -> Iterator[Frame]:
        """Every stored frame."""
        for row in self._db.connection.execute(f"SELECT {_FRAME_COLUMNS} FROM frames"):
            yield _frame_from_row(row)

    def count(self) -> int:
        """How many frames are stored."""
        return int(self._db.connection.execute("SELECT COUNT(*) FROM frames").fetchone()[0])
