"""Numbered schema migrations of the SQLite store, applied in order and recorded in
`schema_migrations`.

Nanosecond, byte and inode columns are declared `BIGINT`, as a PostgreSQL
schema must declare them; to SQLite `BIGINT` and `INTEGER` are the same
(integer affinity, up to 64 bits), so databases written before the change
read and behave exactly as new ones.
"""

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
                size_bytes BIGINT NOT NULL,
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
                size_bytes BIGINT NOT NULL,
                mtime_ns BIGINT NOT NULL,
                inode BIGINT NOT NULL,
                content_hash TEXT,
                checked_at_ns BIGINT NOT NULL,
                rules_signature TEXT NOT NULL DEFAULT '',
                ignored_count INTEGER NOT NULL DEFAULT 0,
                warning_count INTEGER NOT NULL DEFAULT 0
            )
            """,
            "CREATE INDEX tree_entries_by_parent ON tree_entries (parent_path)",
            """
            CREATE TABLE scans (
                scan_id INTEGER PRIMARY KEY,
                started_at_ns BIGINT NOT NULL,
                finished_at_ns BIGINT NOT NULL,
                root_node_id TEXT NOT NULL,
                files INTEGER NOT NULL,
                directories INTEGER NOT NULL,
                bytes BIGINT NOT NULL,
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
                created_at_ns BIGINT NOT NULL
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
                created_at_ns BIGINT NOT NULL,
                PRIMARY KEY (node_id, agent_id, frame_type)
            )
            """,
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=3,
        name="frame generation queue",
        statements=(
            # One row per request. A live request (pending or processing) is unique
            # per key: a second request for the key joins it instead (the index).
            """
            CREATE TABLE frame_requests (
                request_id INTEGER PRIMARY KEY,
                node_id TEXT NOT NULL,
                path TEXT NOT NULL,
                node_type TEXT NOT NULL CHECK (node_type IN ('file', 'directory')),
                agent_id TEXT NOT NULL,
                frame_type TEXT NOT NULL,
                provider_name TEXT NOT NULL,
                priority INTEGER NOT NULL,
                plan_id TEXT,
                force INTEGER NOT NULL DEFAULT 0,
                superseded_frame_id TEXT,
                state TEXT NOT NULL
                    CHECK (state IN ('pending', 'processing', 'done', 'failed', 'cancelled')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at_ns BIGINT NOT NULL DEFAULT 0,
                lease_owner TEXT,
                lease_expires_at_ns BIGINT,
                frame_id TEXT,
                error_class TEXT,
                error_message TEXT,
                joined INTEGER NOT NULL DEFAULT 0,
                created_at_ns BIGINT NOT NULL,
                finished_at_ns BIGINT
            )
            """,
            """
            CREATE UNIQUE INDEX frame_requests_live_key
            ON frame_requests (node_id, agent_id, frame_type)
            WHERE state IN ('pending', 'processing')
            """,
            # Matches the claim query: pending work by priority, then age.
            """
            CREATE INDEX frame_requests_claim
            ON frame_requests (state, priority DESC, request_id)
            """,
            # Who waits on a request, so that an interrupted process cancels only
            # the work no one else needs.
            """
            CREATE TABLE request_waiters (
                request_id INTEGER NOT NULL REFERENCES frame_requests (request_id),
                owner TEXT NOT NULL,
                PRIMARY KEY (request_id, owner)
            )
            """,
            # Every plan a request serves: its own, and those whose items joined it.
            """
            CREATE TABLE request_plans (
                request_id INTEGER NOT NULL REFERENCES frame_requests (request_id),
                plan_id TEXT NOT NULL,
                PRIMARY KEY (request_id, plan_id)
            )
            """,
            "CREATE INDEX request_plans_by_plan ON request_plans (plan_id, request_id)",
            # Orchestrator plans; the oldest open one is the active plan.
            """
            CREATE TABLE plans (
                plan_id TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
                lease_expires_at_ns BIGINT NOT NULL,
                created_at_ns BIGINT NOT NULL
            )
            """,
            # When each agent last started a provider call, for its rate limit.
            """
            CREATE TABLE agent_starts (
                agent_id TEXT PRIMARY KEY,
                last_start_ns BIGINT NOT NULL
            )
            """,
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=4,
        name="sessions and events",
        statements=(
            # One row per command that did work. `ended_at_ns` is set by its
            # `session_ended` event; a row without it whose owner is gone, or
            # whose writer stopped renewing `heartbeat_ns`, was interrupted.
            """
            CREATE TABLE sessions (
                session_id TEXT PRIMARY KEY,
                command TEXT NOT NULL,
                owner TEXT NOT NULL,
                started_at_ns BIGINT NOT NULL,
                ended_at_ns BIGINT,
                outcome TEXT,
                last_seq INTEGER NOT NULL DEFAULT 0,
                heartbeat_ns BIGINT NOT NULL
            )
            """,
            "CREATE INDEX sessions_by_start ON sessions (started_at_ns)",
            # `data` is the event's JSON object, as written.
            """
            CREATE TABLE events (
                session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                ts TEXT NOT NULL,
                type TEXT NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (session_id, seq)
            ) WITHOUT ROWID
            """,
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=5,
        name="frame write order",
        statements=(
            # The order frames were written in, for a timestamp tie in a path's
            # history: a column of its own, not the engine's row id. Frames
            # written before it take their row id, which is that order.
            "ALTER TABLE frames ADD COLUMN seq BIGINT",
            "DROP TRIGGER frames_are_not_updated",
            "UPDATE frames SET seq = rowid",
            """
            CREATE TRIGGER frames_are_not_updated BEFORE UPDATE ON frames
            BEGIN SELECT RAISE(ABORT, 'frames are append-only'); END
            """,
            "CREATE UNIQUE INDEX frames_by_seq ON frames (seq)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=6,
        name="part summaries",
        statements=(
            # What a directory too large for one prompt was summarised from, part by
            # part: keyed by the digest of the part's prompt, so no part is paid twice.
            """
            CREATE TABLE part_summaries (
                digest TEXT PRIMARY KEY,
                content TEXT NOT NULL,
                created_at_ns BIGINT NOT NULL
            )
            """,
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=7,
        name="file imports",
        statements=(
            # What each file's text imports, as it spells it (`merkle.tree.imports`):
            # keyed by content, so an unchanged file is read once.
            """
            CREATE TABLE file_imports (
                content_hash TEXT PRIMARY KEY,
                refs TEXT NOT NULL
            )
            """,
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=8,
        name="first attempt time",
        statements=(
            # When a request was first claimed: its retries are bounded by a time
            # budget from then, not from when it was queued behind a long level.
            "ALTER TABLE frame_requests ADD COLUMN first_attempt_at_ns BIGINT",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=9,
        name="egress ledger",
        statements=(
            # What left the machine: a row committed before each request to a
            # remote provider, its outcome added after. Kept apart from sessions.
            """
            CREATE TABLE egress (
                egress_id INTEGER PRIMARY KEY,
                sent_at_ns BIGINT NOT NULL,
                workspace TEXT NOT NULL,
                path TEXT NOT NULL,
                node_id TEXT NOT NULL,
                agent_id TEXT NOT NULL,
                provider_name TEXT NOT NULL,
                host TEXT NOT NULL,
                model TEXT NOT NULL,
                bytes_sent BIGINT NOT NULL,
                tokens_estimate BIGINT NOT NULL,
                prompt_digest TEXT NOT NULL,
                redactions BIGINT NOT NULL,
                redaction_rules TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                status TEXT,
                input_tokens BIGINT,
                output_tokens BIGINT,
                latency_ms BIGINT,
                finished_at_ns BIGINT
            )
            """,
            "CREATE INDEX egress_by_time ON egress (sent_at_ns)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=10,
        name="provider credentials",
        statements=(
            # Whether a provider's credentials work, per configuration fingerprint:
            # one process probes, a rejection stops every process until it changes.
            """
            CREATE TABLE provider_checks (
                provider_name TEXT PRIMARY KEY,
                fingerprint TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('probing', 'verified', 'rejected')),
                owner TEXT,
                until_ns BIGINT,
                message TEXT,
                hint TEXT
            )
            """,
        ),
    ),
)

MIGRATIONS += (
    Migration(
        version=11,
        name="provider pauses",
        statements=(
            # A provider that said "wait" (429, Retry-After) is not called by any
            # process sharing the store until the pause ends.
            """
            CREATE TABLE provider_pauses (
                provider_name TEXT PRIMARY KEY,
                until_ns BIGINT NOT NULL
            )
            """,
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
