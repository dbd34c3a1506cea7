"""Append-only frames and the head of each key, in SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from merkle.store.records import Frame, FrameKey, Head
from merkle.store.sqlite.connection import SqliteConnection

_FRAME_COLUMNS = "frame_id, node_id, agent_id, frame_type, content, metadata, created_at_ns"
_JOINED_COLUMNS = ", ".join("f." + column for column in _FRAME_COLUMNS.split(", "))
_HEAD_SELECT = "SELECT node_id, agent_id, frame_type, frame_id, created_at_ns FROM heads"


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


class SqliteFrames:
    """Frames, each written together with its key's head."""

    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    def append(self, frame: Frame) -> bool:
        """Store `frame` and advance its head, in one transaction.

        Returns False, writing nothing, when a frame with this id is already stored.
        """
        with self._db.transaction():
            # `seq` is the write order, for a tie of timestamps in a path's history.
            cursor = self._db.execute(
                f"INSERT INTO frames ({_FRAME_COLUMNS}, seq) VALUES (?, ?, ?, ?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM frames))"
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
            # A head only moves forward: an older frame written late stays history.
            self._db.execute(
                "INSERT INTO heads (node_id, agent_id, frame_type, frame_id, created_at_ns)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id, agent_id, frame_type) DO UPDATE"
                " SET frame_id = excluded.frame_id, created_at_ns = excluded.created_at_ns"
                " WHERE excluded.created_at_ns >= heads.created_at_ns",
                (*frame.key, frame.frame_id, frame.created_at_ns),
            )
        return True

    def get(self, frame_id: str) -> Frame | None:
        """The frame with this id, if stored."""
        row = self._db.one(f"SELECT {_FRAME_COLUMNS} FROM frames WHERE frame_id = ?", (frame_id,))
        return None if row is None else _frame_from_row(row)

    def head(self, key: FrameKey) -> Head | None:
        """The head of a key, if it has one."""
        row = self._db.one(
            _HEAD_SELECT + " WHERE node_id = ? AND agent_id = ? AND frame_type = ?", key
        )
        return None if row is None else _head_from_row(row)

    def head_frame(self, key: FrameKey) -> Frame | None:
        """The frame the key's head points at, if any."""
        row = self._db.one(
            f"SELECT {_JOINED_COLUMNS} FROM heads h JOIN frames f ON f.frame_id = h.frame_id"
            " WHERE h.node_id = ? AND h.agent_id = ? AND h.frame_type = ?",
            key,
        )
        return None if row is None else _frame_from_row(row)

    def history(self, path: str, agent_id: str, frame_type: str) -> list[Frame]:
        """Every frame ever written for `path`, across its node ids, newest first."""
        rows = self._db.all(
            f"SELECT {_JOINED_COLUMNS} FROM frames f JOIN nodes n ON n.node_id = f.node_id"
            " WHERE n.path = ? AND f.agent_id = ? AND f.frame_type = ?"
            " ORDER BY f.created_at_ns DESC, f.seq DESC",
            (path, agent_id, frame_type),
        )
        return [_frame_from_row(row) for row in rows]

    def iter_frames(self) -> Iterator[Frame]:
        """Every stored frame."""
        for row in self._db.rows(f"SELECT {_FRAME_COLUMNS} FROM frames"):
            yield _frame_from_row(row)

    def iter_heads(self) -> Iterator[Head]:
        """Every head."""
        yield from map(_head_from_row, self._db.rows(_HEAD_SELECT))

    def count(self) -> int:
        """How many frames are stored."""
        return int(self._db.one("SELECT COUNT(*) FROM frames")[0])

    def head_count(self) -> int:
        """How many keys have a head."""
        return int(self._db.one("SELECT COUNT(*) FROM heads")[0])

    def part_summary(self, digest: str) -> str | None:
        """The summary written for the part prompt with this digest, if any."""
        row = self._db.one("SELECT content FROM part_summaries WHERE digest = ?", (digest,))
        return None if row is None else str(row[0])

    def put_part_summary(self, digest: str, content: str, *, now_ns: int) -> None:
        """Keep the summary of the part prompt with this digest (the first one wins)."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO part_summaries (digest, content, created_at_ns) VALUES (?, ?, ?)"
                " ON CONFLICT (digest) DO NOTHING",
                (digest, content, now_ns),
            )
