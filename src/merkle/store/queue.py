"""QueueStore: the durable state of the frame generation queue, shared by every process.

Each operation is one short transaction. Claiming takes the write lock first
(`BEGIN IMMEDIATE`), so two processes can never claim the same request; the
partial unique index on live keys makes a second request for a key join the
first instead of running twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from merkle.errors import StoreError
from merkle.store.database import Database
from merkle.store.records import NodeType


class RequestState(Enum):
    """Where a request is in its life."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def live(self) -> bool:
        """Whether the request may still run."""
        return self in (RequestState.PENDING, RequestState.PROCESSING)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRequest:
    """The fields of a request to store."""

    node_id: str
    path: str
    node_type: NodeType
    agent_id: str
    frame_type: str
    provider_name: str
    priority: int
    plan_id: str | None
    force: bool
    superseded_frame_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRequest:
    """A request as stored, with its state and outcome."""

    request_id: int
    node_id: str
    path: str
    node_type: NodeType
    agent_id: str
    frame_type: str
    provider_name: str
    priority: int
    plan_id: str | None
    force: bool
    superseded_frame_id: str | None
    state: RequestState
    attempts: int
    next_attempt_at_ns: int
    lease_owner: str | None
    frame_id: str | None
    error_class: str | None
    error_message: str | None
    created_at_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLimits:
    """How many calls an agent may have in flight, and the least time between starts."""

    max_concurrent: int
    min_interval_ns: int = 0


_COLUMNS = (
    "request_id, node_id, path, node_type, agent_id, frame_type, provider_name, priority,"
    " plan_id, force, superseded_frame_id, state, attempts, next_attempt_at_ns, lease_owner,"
    " frame_id, error_class, error_message, created_at_ns"
)


def _request(row: tuple[Any, ...]) -> StoredRequest:
    values = dict(zip(_COLUMNS.split(", "), row, strict=True))
    values["node_type"] = NodeType(values["node_type"])
    values["state"] = RequestState(values["state"])
    values["force"] = bool(values["force"])
    return StoredRequest(**values)


DETACHED = "(detached)"


class QueueFullError(Exception):
    """The queue holds as many live requests as it may."""


class StoreBusy(StoreError):
    """The database stayed locked by other processes past the busy timeout."""


class QueueStore:
    """The queue's tables: requests, waiters, plans and agent start times."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # -- requests ------------------------------------------------------------------

    def enqueue(
        self, new: NewRequest, *, owner: str, now_ns: int, max_live: int, wait: bool
    ) -> tuple[StoredRequest, bool]:
        """Store `new`, or join the live request of its key. Returns the request and
        whether it was joined. With `wait`, `owner` is recorded as a waiter.

        Raises `QueueFullError` when a new request would exceed `max_live`.
        """
        with self._db.transaction() as conn:
            live = self._live_for_key(conn, new.node_id, new.agent_id, new.frame_type)
            if live is not None:
                conn.execute(
                    "UPDATE frame_requests SET joined = joined + 1,"
                    " priority = MAX(priority, ?) WHERE request_id = ?",
                    (new.priority, live.request_id),
                )
                joined = True
                request = live
            else:
                count = conn.execute(
                    "SELECT COUNT(*) FROM frame_requests WHERE state IN ('pending', 'processing')"
                ).fetchone()[0]
                if count >= max_live:
                    raise QueueFullError(count)
                cursor = conn.execute(
                    "INSERT INTO frame_requests (node_id, path, node_type, agent_id, frame_type,"
                    " provider_name, priority, plan_id, force, superseded_frame_id, state,"
                    " created_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (new.node_id, new.path, new.node_type.value, new.agent_id, new.frame_type,
                     new.provider_name, new.priority, new.plan_id, int(new.force),
                     new.superseded_frame_id, now_ns),
                )  # fmt: skip
                joined = False
                request = self._get(conn, int(cursor.lastrowid or 0))
            if new.plan_id is not None:
                # A plan item that joins other work makes that work part of the plan,
                # or the plan would wait on a request that cannot run while it is active.
                conn.execute(
                    "INSERT OR IGNORE INTO request_plans (request_id, plan_id) VALUES (?, ?)",
                    (request.request_id, new.plan_id),
                )
            # A submission that does not wait still wants the frame: it is recorded
            # as a detached waiter, so no other process's Ctrl-C cancels the work.
            conn.execute(
                "INSERT OR IGNORE INTO request_waiters (request_id, owner) VALUES (?, ?)",
                (request.request_id, owner if wait else DETACHED),
            )
        return request, joined

    @staticmethod
    def _live_for_key(
        conn: sqlite3.Connection, node_id: str, agent_id: str, frame_type: str
    ) -> StoredRequest | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM frame_requests WHERE node_id = ? AND agent_id = ?"
            " AND frame_type = ? AND state IN ('pending', 'processing')",
            (node_id, agent_id, frame_type),
        ).fetchone()
        return None if row is None else _request(row)

    @staticmethod
    def _get(conn: sqlite3.Connection, request_id: int) -> StoredRequest:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM frame_requests WHERE request_id = ?", (request_id,)
        ).fetchone()
        return _request(row)

    def get(self, request_id: int) -> StoredRequest:
        """The request with this id."""
        return self._get(self._db.connection, request_id)

    def outcomes(self, request_ids: Iterable[int]) -> dict[int, StoredRequest]:
        """The requests among `request_ids` that are no longer live."""
        ids = list(request_ids)
        found: dict[int, StoredRequest] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.connection.execute(
                f"SELECT {_COLUMNS} FROM frame_requests WHERE request_id IN ({marks})"
                " AND state NOT IN ('pending', 'processing')",
                chunk,
            )
            found.update((row[0], _request(row)) for row in rows)
        return found

    # -- claiming --------------------------------------------------------------------

    def claim(
        self,
        *,
        owner: str,
        now_ns: int,
        lease_ns: int,
        limits: Mapping[str, AgentLimits],
        default_limits: AgentLimits,
    ) -> StoredRequest | None:
        """Take the next runnable request for `owner`, atomically, or None.

        Runnable: pending and due, or processing under an expired lease (its
        process died). Only the active plan's requests run while a plan is
        active. Within that, higher priority first, then the oldest; an agent
        at its concurrency limit or inside its minimum interval is skipped.
        """
        try:
            return self._claim(
                owner=owner, now_ns=now_ns, lease_ns=lease_ns, limits=limits, default=default_limits
            )
        except sqlite3.OperationalError as error:
            raise StoreBusy(
                f"cannot claim work: {error}", hint="another process holds the database"
            ) from error

    def _claim(
        self,
        *,
        owner: str,
        now_ns: int,
        lease_ns: int,
        limits: Mapping[str, AgentLimits],
        default: AgentLimits,
    ) -> StoredRequest | None:
        with self._db.transaction() as conn:
            plan = self._active_plan(conn, now_ns)
            blocked = self._blocked_agents(conn, now_ns, limits, default)
            marks = ", ".join("?" * len(blocked))
            where = ""
            parameters: list[Any] = []
            if blocked:
                where += f" AND agent_id NOT IN ({marks})"
                parameters += blocked
            if plan is not None:
                where += (
                    " AND request_id IN (SELECT request_id FROM request_plans WHERE plan_id = ?)"
                )
                parameters.append(plan)
            # Two queries the claim index serves in order: work whose process died
            # first, then pending work that is due.
            order = " ORDER BY priority DESC, request_id LIMIT 1"
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM frame_requests WHERE state = 'processing'"
                f" AND lease_expires_at_ns <= ?{where}{order}",
                [now_ns, *parameters],
            ).fetchone()
            if row is None:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM frame_requests WHERE state = 'pending'"
                    f" AND next_attempt_at_ns <= ?{where}{order}",
                    [now_ns, *parameters],
                ).fetchone()
            if row is None:
                return None
            candidate = _request(row)
            conn.execute(
                "UPDATE frame_requests SET state = 'processing', lease_owner = ?,"
                " lease_expires_at_ns = ?, attempts = attempts + 1 WHERE request_id = ?",
                (owner, now_ns + lease_ns, candidate.request_id),
            )
            conn.execute(
                "INSERT INTO agent_starts (agent_id, last_start_ns) VALUES (?, ?)"
                " ON CONFLICT (agent_id) DO UPDATE SET last_start_ns = excluded.last_start_ns",
                (candidate.agent_id, now_ns),
            )
            return self._get(conn, candidate.request_id)

    @staticmethod
    def _blocked_agents(
        conn: sqlite3.Connection,
        now_ns: int,
        limits: Mapping[str, AgentLimits],
        default_limits: AgentLimits,
    ) -> list[str]:
        """Agents at their concurrency limit or inside their minimum interval."""
        busy = dict(
            conn.execute(
                "SELECT agent_id, COUNT(*) FROM frame_requests WHERE state = 'processing'"
                " AND lease_expires_at_ns > ? GROUP BY agent_id",
                (now_ns,),
            ).fetchall()
        )
        starts = dict(conn.execute("SELECT agent_id, last_start_ns FROM agent_starts").fetchall())
        blocked = []
        for agent_id in busy.keys() | starts.keys():
            agent_limits = limits.get(agent_id, default_limits)
            full = busy.get(agent_id, 0) >= agent_limits.max_concurrent
            last = starts.get(agent_id)
            too_soon = last is not None and now_ns < last + agent_limits.min_interval_ns
            if full or too_soon:
                blocked.append(agent_id)
        return sorted(blocked)

    def next_due_ns(self, now_ns: int) -> int | None:
        """When the earliest pending request becomes due (None if nothing is pending)."""
        row = self._db.connection.execute(
            "SELECT MIN(next_attempt_at_ns) FROM frame_requests WHERE state = 'pending'"
        ).fetchone()
        return None if row[0] is None else max(int(row[0]), now_ns)

    def renew(self, *, owner: str, request_ids: Iterable[int], until_ns: int) -> None:
        """Extend `owner`'s leases on `request_ids` (the heartbeat)."""
        ids = list(request_ids)
        if not ids:
            return
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE frame_requests SET lease_expires_at_ns = ?"
                " WHERE request_id = ? AND lease_owner = ? AND state = 'processing'",
                ((until_ns, rid, owner) for rid in ids),
            )

    # -- outcomes ----------------------------------------------------------------------

    def finish(
        self,
        request_id: int,
        *,
        owner: str,
        now_ns: int,
        state: RequestState,
        frame_id: str | None = None,
        error_class: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """Record the final outcome, if `owner` still holds the request. Returns whether
        it did (a lost lease means another process took the request over)."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE frame_requests SET state = ?, frame_id = ?, error_class = ?,"
                " error_message = ?, finished_at_ns = ?, lease_owner = NULL,"
                " lease_expires_at_ns = NULL WHERE request_id = ? AND lease_owner = ?"
                " AND state = 'processing'",
                (state.value, frame_id, error_class, error_message, now_ns, request_id, owner),
            )
            conn.execute("DELETE FROM request_waiters WHERE request_id = ?", (request_id,))
            return cursor.rowcount == 1

    def retry_later(
        self, request_id: int, *, owner: str, due_ns: int, error_class: str, error_message: str
    ) -> bool:
        """Put a failed attempt back as pending until `due_ns`."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE frame_requests SET state = 'pending', next_attempt_at_ns = ?,"
                " error_class = ?, error_message = ?, lease_owner = NULL,"
                " lease_expires_at_ns = NULL WHERE request_id = ? AND lease_owner = ?"
                " AND state = 'processing'",
                (due_ns, error_class, error_message, request_id, owner),
            )
            return cursor.rowcount == 1

    def abandon(self, *, owner: str, now_ns: int) -> list[int]:
        """`owner` stops (Ctrl-C): drop its waits, cancel the live requests nobody else
        waits on, and hand back the rest. Returns the cancelled request ids."""
        with self._db.transaction() as conn:
            waited = [
                row[0]
                for row in conn.execute(
                    "SELECT request_id FROM request_waiters WHERE owner = ?", (owner,)
                )
            ]
            conn.execute("DELETE FROM request_waiters WHERE owner = ?", (owner,))
            cancelled = []
            for request_id in waited:
                others = conn.execute(
                    "SELECT COUNT(*) FROM request_waiters WHERE request_id = ?", (request_id,)
                ).fetchone()[0]
                if others:
                    continue
                # Work another live process is running is left to finish: cancelling
                # it would free its key for a second, concurrent provider call.
                cursor = conn.execute(
                    "UPDATE frame_requests SET state = 'cancelled', finished_at_ns = ?,"
                    " lease_owner = NULL, lease_expires_at_ns = NULL WHERE request_id = ?"
                    " AND (state = 'pending' OR (state = 'processing'"
                    " AND (lease_owner = ? OR lease_expires_at_ns <= ?)))",
                    (now_ns, request_id, owner, now_ns),
                )
                if cursor.rowcount:
                    cancelled.append(request_id)
            # Work held for other waiters goes back to the queue for another process.
            conn.execute(
                "UPDATE frame_requests SET state = 'pending', lease_owner = NULL,"
                " lease_expires_at_ns = NULL WHERE lease_owner = ? AND state = 'processing'",
                (owner,),
            )
            conn.execute("UPDATE plans SET state = 'closed' WHERE owner = ?", (owner,))
        return cancelled

    def owners(self) -> set[str]:
        """Every process that holds a lease on a request or a plan."""
        rows = self._db.connection.execute(
            "SELECT lease_owner FROM frame_requests WHERE state = 'processing'"
            " UNION SELECT owner FROM plans WHERE state = 'open'"
        )
        return {str(row[0]) for row in rows if row[0] is not None}

    def expire(self, owner: str) -> None:
        """`owner` is gone: its leases expire now and its plans close."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE frame_requests SET lease_expires_at_ns = 0"
                " WHERE lease_owner = ? AND state = 'processing'",
                (owner,),
            )
            conn.execute(
                "UPDATE plans SET state = 'closed' WHERE owner = ? AND state = 'open'", (owner,)
            )

    # -- plans --------------------------------------------------------------------------

    def open_plan(self, plan_id: str, *, owner: str, now_ns: int, lease_ns: int) -> None:
        """Register an orchestrator plan; the oldest open plan is the active one."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO plans (plan_id, owner, state, lease_expires_at_ns, created_at_ns)"
                " VALUES (?, ?, 'open', ?, ?) ON CONFLICT (plan_id) DO NOTHING",
                (plan_id, owner, now_ns + lease_ns, now_ns),
            )

    def close_plan(self, plan_id: str) -> None:
        """The plan is finished: the next plan, or direct work, may run."""
        with self._db.transaction() as conn:
            conn.execute("UPDATE plans SET state = 'closed' WHERE plan_id = ?", (plan_id,))

    def renew_plans(self, *, owner: str, until_ns: int) -> None:
        """Extend the leases of `owner`'s open plans (the heartbeat)."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE plans SET lease_expires_at_ns = ? WHERE owner = ? AND state = 'open'",
                (until_ns, owner),
            )

    def active_plan(self, now_ns: int) -> str | None:
        """The plan whose requests run first, if any."""
        return self._active_plan(self._db.connection, now_ns)

    @staticmethod
    def _active_plan(conn: sqlite3.Connection, now_ns: int) -> str | None:
        # A plan whose process died (lease expired) no longer holds the queue.
        row = conn.execute(
            "SELECT plan_id FROM plans WHERE state = 'open' AND lease_expires_at_ns > ?"
            " ORDER BY created_at_ns, plan_id LIMIT 1",
            (now_ns,),
        ).fetchone()
        return None if row is None else str(row[0])

    # -- stats -----------------------------------------------------------------------------

    def counts(self) -> list[tuple[str, str, int, int, int, int]]:
        """Per (state, agent, priority): requests, joins, and attempts beyond the first."""
        rows = self._db.connection.execute(
            "SELECT state, agent_id, priority, COUNT(*), SUM(joined),"
            " SUM(MAX(attempts - 1, 0)) FROM frame_requests GROUP BY state, agent_id, priority"
        )
        return [(s, a, p, n, j or 0, r or 0) for s, a, p, n, j, r in rows]

    def live_counts(self) -> dict[str, int]:
        """Pending and processing requests, from the claim index (history is not read)."""
        rows = self._db.connection.execute(
            "SELECT state, COUNT(*) FROM frame_requests"
            " WHERE state IN ('pending', 'processing') GROUP BY state"
        )
        counts = {"pending": 0, "processing": 0}
        counts.update({state: int(count) for state, count in rows})
        return counts

    def live_count(self) -> int:
        """How many requests are pending or processing."""
        return int(
            self._db.connection.execute(
                "SELECT COUNT(*) FROM frame_requests WHERE state IN ('pending', 'processing')"
            ).fetchone()[0]
        )
