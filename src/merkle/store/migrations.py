"""Numbered schema migrations, applied in order and recorded in `schema_migrations`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One step of the schema: its number, a name and the statements it runs."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        name="workspace tree",
        statements=(
            # Content-addressed node records: never updated once written.
            """
            CREATE TABLE nodes (
                node_id TEXT PRIMARY KEY,
                path TEXT NOT NULL,
                node_type TEXT NOT NULL CHECK (node_type IN ('file', 'directory')),
                size_bytes INTEGER NOT NULL,
                content_hash TEXT,
                CHECK ((node_type = 'file') = (content_hash IS NOT NULL))
            )
            """,
            "CREATE INDEX nodes_by_path ON nodes (path)",
            # A directory's children, by name. No foreign key on child_id, so
            # that validation, not an insert error, is what reports a record
            # whose child is missing.
            """
            CREATE TABLE node_children (
                parent_id TEXT NOT NULL REFERENCES nodes (node_id),
                name TEXT NOT NULL,
                child_id TEXT NOT NULL,
                PRIMARY KEY (parent_id, name)
            )
            """,
            # The current tree by path, with the stat cache that spares a rescan
            # reading unchanged files and listing unchanged directories. It repeats
            # a few columns of `nodes` so that a rescan loads it in one scan.
            """
            CREATE TABLE tree_entries (
                path TEXT PRIMARY KEY,
                node_id TEXT NOT NULL,
                node_type TEXT NOT NULL CHECK (node_type IN ('file', 'directory')),
                parent_path TEXT,
                size_bytes INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                inode INTEGER NOT NULL,
                content_hash TEXT,
                checked_at_ns INTEGER NOT NULL,
                rules_signature TEXT NOT NULL DEFAULT '',
                ignored_count INTEGER NOT NULL DEFAULT 0,
                warning_count INTEGER NOT NULL DEFAULT 0
            )
            """,
            "CREATE INDEX tree_entries_by_parent ON tree_entries (parent_path)",
            """
            CREATE TABLE scans (
                scan_id INTEGER PRIMARY KEY,
                started_at_ns INTEGER NOT NULL,
                finished_at_ns INTEGER NOT NULL,
                root_node_id TEXT NOT NULL,
                files INTEGER NOT NULL,
                directories INTEGER NOT NULL,
                bytes INTEGER NOT NULL,
                hashed INTEGER NOT NULL,
                reused INTEGER NOT NULL,
                ignored INTEGER NOT NULL,
                warnings INTEGER NOT NULL
            )
            """,
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=2,
        name="frames and heads",
        statements=(
            # Frames are content-addressed and append-only: the triggers refuse any
            # update or delete, whoever asks.
            """
            CREATE TABLE frames (
                frame_id TEXT PRIMARY KEY,
                node_id TEXT NOT NULL REFERENCES nodes (node_id),
                agent_id TEXT NOT NULL,
                frame_type TEXT NOT NULL,
                content TEXT NOT NULL,
                metadata TEXT NOT NULL,
                created_at_ns INTEGER NOT NULL
            )
            """,
            "CREATE INDEX frames_by_key ON frames (node_id, agent_id, frame_type, created_at_ns)",
            """
            CREATE TRIGGER frames_are_not_updated BEFORE UPDATE ON frames
            BEGIN SELECT RAISE(ABORT, 'frames are append-only'); END
            """,
            """
            CREATE TRIGGER frames_are_not_deleted BEFORE DELETE ON frames
            BEGIN SELECT RAISE(ABORT, 'frames are append-only'); END
            """,
            # The newest frame per key; `created_at_ns` is the frame's, so that a
            # head only ever moves forward.
            """
            CREATE TABLE heads (
                node_id TEXT NOT NULL,
                agent_id TEXT NOT NULL,
                frame_type TEXT NOT NULL,
                frame_id TEXT NOT NULL REFERENCES frames (frame_id),
                created_at_ns INTEGER NOT NULL,
                PRIMARY KEY (node_id, agent_id, frame_type)
            )
            """,
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
