"""The durable state of the frame generation queue in SQLite, shared by every process.

Each operation is one short transaction. The statements are portable (an
upsert with `RETURNING` on the live-key partial index, no engine row ids, no
scalar `MAX`), so that another engine's backend can run the same ones; the
claim is the one place where engines differ: here it takes the write lock
first (`BEGIN IMMEDIATE`), so two processes can never claim the same request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from merkle.errors import QueueFull
from merkle.store.records import (
    DETACHED,
    AgentLoad,
    Enqueued,
    FrameKey,
    NewRequest,
    NodeType,
    QueueCount,
    RequestState,
    StoredRequest,
)
from merkle.store.sqlite.connection import SqliteConnection

_COLUMNS = (
    "request_id, node_id, agent_id, frame_type, path, node_type, provider_name, priority,"
    " plan_id, force, superseded_frame_id, state, attempts, next_attempt_at_ns, lease_owner,"
    " frame_id, error_class, error_message, created_at_ns, first_attempt_at_ns"
)
_LIVE = "state IN ('pending', 'processing')"
_NODE_TYPES = {node_type.value: node_type for node_type in NodeType}
_STATES = {state.value: state for state in RequestState}

# A new request, or a join of its key's live one (the partial unique index):
# `joined` comes back 0 for a new row and counts the joins of an existing one.
_UPSERT = (
    "INSERT INTO frame_requests (node_id, agent_id, frame_type, path, node_type, provider_name,"
    " priority, plan_id, force, superseded_frame_id, state, created_at_ns)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)"
    f" ON CONFLICT (node_id, agent_id, frame_type) WHERE {_LIVE} DO UPDATE SET"
    " joined = frame_requests.joined + 1,"
    " priority = CASE WHEN excluded.priority > frame_requests.priority"
    " THEN excluded.priority ELSE frame_requests.priority END"
    f" RETURNING {_COLUMNS}, joined"
)


def _request(row: Sequence[Any]) -> StoredRequest:
    return StoredRequest(
        request_id=row[0],
        key=FrameKey(row[1], row[2], row[3]),
        path=row[4],
        node_type=_NODE_TYPES[row[5]],
        provider_name=row[6],
        priority=row[7],
        plan_id=row[8],
        force=bool(row[9]),
        superseded_frame_id=row[10],
        state=_STATES[row[11]],
        attempts=row[12],
        next_attempt_at_ns=row[13],
        lease_owner=row[14],
        frame_id=row[15],
        error_class=row[16],
        error_message=row[17],
        created_at_ns=row[18],
        first_attempt_at_ns=row[19],
    )


class SqliteQueue:
    """The queue's tables: requests, waiters, plans and agent start times."""

    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    # -- requests ------------------------------------------------------------------

    def enqueue(
        self, requests: Sequence[NewRequest], *, owner: str, now_ns: int, max_live: int, wait: bool
    ) -> list[Enqueued]:
        """Store `requests` or join their keys' live requests, all in one transaction;
        `QueueFull` (nothing stored) when the new ones would pass `max_live`."""
        waiter = owner if wait else DETACHED
        results: list[Enqueued] = []
        with self._db.transaction():
            for new in requests:
                (row,) = self._db.all(
                    _UPSERT,
                    (*new.key, new.path, new.node_type.value, new.provider_name, new.priority,
                     new.plan_id, int(new.force), new.superseded_frame_id, now_ns),
                )  # fmt: skip
                stored = _request(row)
                results.append(Enqueued(request=stored, joined=row[-1] > 0))
                if new.plan_id is not None:
                    # A plan item that joins other work makes that work part of the plan,
                    # or the plan would wait on a request that cannot run while it is active.
                    self._db.execute(
                        "INSERT INTO request_plans (request_id, plan_id) VALUES (?, ?)"
                        " ON CONFLICT DO NOTHING",
                        (stored.request_id, new.plan_id),
                    )
                # A submission that does not wait still wants the frame: it is recorded
                # as a detached waiter, so no other process's Ctrl-C cancels the work.
                self._db.execute(
                    "INSERT INTO request_waiters (request_id, owner) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (stored.request_id, waiter),
                )
            added = sum(1 for result in results if not result.joined)
            # Counted after the writes, and only when something was added: a join
            # takes no room, and the rollback undoes a batch that does not fit.
            live = self.live_count() if added else 0
            if live > max_live:
                raise QueueFull(
                    f"the queue is full ({live - added:,} requests pending or processing)",
                    live=live - added,
                    hint="wait for the running work to finish, then try again",
                )
        return results

    def get(self, request_id: int) -> StoredRequest:
        """The request with this id."""
        row = self._db.one(
            f"SELECT {_COLUMNS} FROM frame_requests WHERE request_id = ?", (request_id,)
        )
        return _request(row)

    def outcomes(self, request_ids: Iterable[int]) -> dict[int, StoredRequest]:
        """The requests among `request_ids` that are no longer live."""
        ids = list(request_ids)
        found: dict[int, StoredRequest] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.all(
                f"SELECT {_COLUMNS} FROM frame_requests WHERE request_id IN ({marks})"
                f" AND NOT {_LIVE}",
                chunk,
            )
            found.update((row[0], _request(row)) for row in rows)
        return found

    # -- claiming --------------------------------------------------------------------

    def agent_load(self, now_ns: int) -> list[AgentLoad]:
        """Per agent, the calls in flight under a live lease and the last start."""
        rows = self._db.all(
            "SELECT agent_id, SUM(in_flight), MAX(last_start_ns) FROM ("
            " SELECT agent_id, COUNT(*) AS in_flight, NULL AS last_start_ns"
            " FROM frame_requests WHERE state = 'processing' AND lease_expires_at_ns > ?"
            " GROUP BY agent_id"
            " UNION ALL SELECT agent_id, 0, last_start_ns FROM agent_starts"
            ") GROUP BY agent_id ORDER BY agent_id",
            (now_ns,),
        )
        return [AgentLoad(agent_id, int(busy), last) for agent_id, busy, last in rows]

    def claim(
        self,
        *,
        owner: str,
        now_ns: int,
        lease_ns: int,
        excluded_agents: Sequence[str] = (),
        excluded_providers: Sequence[str] = (),
    ) -> StoredRequest | None:
        """Take the next runnable request for `owner`, atomically, or None."""
        with self._db.transaction():
            plan = self.active_plan(now_ns)
            where = ""
            parameters: list[Any] = []
            if excluded_agents:
                where += f" AND agent_id NOT IN ({', '.join('?' * len(excluded_agents))})"
                parameters += excluded_agents
            if excluded_providers:
                marks = ", ".join("?" * len(excluded_providers))
                where += f" AND provider_name NOT IN ({marks})"
                parameters += excluded_providers
            if plan is not None:
                where += (
                    " AND request_id IN (SELECT request_id FROM request_plans WHERE plan_id = ?)"
                )
                parameters.append(plan)
            # Two queries the claim index serves in order: work whose process died
            # first, then pending work that is due.
            order = " ORDER BY priority DESC, request_id LIMIT 1"
            row = self._db.one(
                f"SELECT request_id FROM frame_requests WHERE state = 'processing'"
                f" AND lease_expires_at_ns <= ?{where}{order}",
                [now_ns, *parameters],
            )
            if row is None:
                row = self._db.one(
                    f"SELECT request_id FROM frame_requests WHERE state = 'pending'"
                    f" AND next_attempt_at_ns <= ?{where}{order}",
                    [now_ns, *parameters],
                )
            if row is None:
                return None
            (claimed,) = self._db.all(
                "UPDATE frame_requests SET state = 'processing', lease_owner = ?,"
                " lease_expires_at_ns = ?, attempts = attempts + 1,"
                " first_attempt_at_ns = COALESCE(first_attempt_at_ns, ?) WHERE request_id = ?"
                f" RETURNING {_COLUMNS}",
                (owner, now_ns + lease_ns, now_ns, row[0]),
            )
            request = _request(claimed)
            self._db.execute(
                "INSERT INTO agent_starts (agent_id, last_start_ns) VALUES (?, ?)"
                " ON CONFLICT (agent_id) DO UPDATE SET last_start_ns = excluded.last_start_ns",
                (request.key.agent_id, now_ns),
            )
        return request

    def has_runnable(self, now_ns: int, *, excluded_providers: Sequence[str] = ()) -> bool:
        """Whether any request, of a provider not in `excluded_providers`, may be claimed
        now (a read: no write lock is taken)."""
        left = ""
        if excluded_providers:
            left = f" AND provider_name NOT IN ({', '.join('?' * len(excluded_providers))})"
        row = self._db.one(
            "SELECT EXISTS (SELECT 1 FROM frame_requests WHERE state = 'pending'"
            f" AND next_attempt_at_ns <= ?{left}) OR EXISTS (SELECT 1 FROM frame_requests"
            f" WHERE state = 'processing' AND lease_expires_at_ns <= ?{left})",
            (now_ns, *excluded_providers, now_ns, *excluded_providers),
        )
        return bool(row[0])

    def next_due_ns(self, now_ns: int) -> int | None:
        """When the earliest request becomes runnable, not before `now_ns`."""
        row = self._db.one(
            "SELECT MIN(due) FROM ("
            " SELECT MIN(next_attempt_at_ns) AS due FROM frame_requests WHERE state = 'pending'"
            " UNION ALL SELECT MIN(lease_expires_at_ns) FROM frame_requests"
            " WHERE state = 'processing')"
        )
        return None if row[0] is None else max(int(row[0]), now_ns)

    def renew(self, *, owner: str, request_ids: Iterable[int], until_ns: int) -> None:
        """Extend `owner`'s leases on `request_ids` (the heartbeat)."""
        ids = list(request_ids)
        if not ids:
            return
        with self._db.transaction():
            self._db.executemany(
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
    ) -> StoredRequest | None:
        """Record the final outcome, if `owner` still holds the request."""
        with self._db.transaction():
            rows = self._db.all(
                "UPDATE frame_requests SET state = ?, frame_id = ?, error_class = ?,"
                " error_message = ?, finished_at_ns = ?, lease_owner = NULL,"
                " lease_expires_at_ns = NULL WHERE request_id = ? AND lease_owner = ?"
                f" AND state = 'processing' RETURNING {_COLUMNS}",
                (state.value, frame_id, error_class, error_message, now_ns, request_id, owner),
            )
            self._db.execute("DELETE FROM request_waiters WHERE request_id = ?", (request_id,))
        return _request(rows[0]) if rows else None

    def retry_later(
        self, request_id: int, *, owner: str, due_ns: int, error_class: str, error_message: str
    ) -> bool:
        """Put a failed attempt back as pending until `due_ns`."""
        with self._db.transaction():
            cursor = self._db.execute(
                "UPDATE frame_requests SET state = 'pending', next_attempt_at_ns = ?,"
                " error_class = ?, error_message = ?, lease_owner = NULL,"
                " lease_expires_at_ns = NULL WHERE request_id = ? AND lease_owner = ?"
                " AND state = 'processing'",
                (due_ns, error_class, error_message, request_id, owner),
            )
        return cursor.rowcount == 1

    def pause_provider(self, provider_name: str, *, until_ns: int) -> None:
        """No request of `provider_name` is claimed before `until_ns` (a later pause
        already set is kept)."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO provider_pauses (provider_name, until_ns) VALUES (?, ?)"
                " ON CONFLICT (provider_name) DO UPDATE SET until_ns = excluded.until_ns"
                " WHERE excluded.until_ns > provider_pauses.until_ns",
                (provider_name, until_ns),
            )

    def paused_providers(self, now_ns: int) -> list[str]:
        """The providers whose pause has not ended at `now_ns`."""
        rows = self._db.all(
            "SELECT provider_name FROM provider_pauses WHERE until_ns > ? ORDER BY provider_name",
            (now_ns,),
        )
        return [str(row[0]) for row in rows]

    def abandon(self, *, owner: str, now_ns: int) -> list[int]:
        """`owner` stops (Ctrl-C): drop its waits, cancel the live requests nobody else
        waits on, and hand back the rest. Returns the cancelled request ids."""
        cancelled = []
        with self._db.transaction():
            waited = [
                row[0]
                for row in self._db.all(
                    "SELECT request_id FROM request_waiters WHERE owner = ?", (owner,)
                )
            ]
            self._db.execute("DELETE FROM request_waiters WHERE owner = ?", (owner,))
            for request_id in waited:
                others = self._db.one(
                    "SELECT COUNT(*) FROM request_waiters WHERE request_id = ?", (request_id,)
                )[0]
                if others:
                    continue
                # Work another live process is running is left to finish: cancelling
                # it would free its key for a second, concurrent provider call.
                cursor = self._db.execute(
                    "UPDATE frame_requests SET state = 'cancelled', finished_at_ns = ?,"
                    " lease_owner = NULL, lease_expires_at_ns = NULL WHERE request_id = ?"
                    " AND (state = 'pending' OR (state = 'processing'"
                    " AND (lease_owner = ? OR lease_expires_at_ns <= ?)))",
                    (now_ns, request_id, owner, now_ns),
                )
                if cursor.rowcount:
                    cancelled.append(request_id)
            # Work held for other waiters goes back to the queue for another process.
            self._db.execute(
                "UPDATE frame_requests SET state = 'pending', lease_owner = NULL,"
                " lease_expires_at_ns = NULL WHERE lease_owner = ? AND state = 'processing'",
                (owner,),
            )
            self._db.execute("UPDATE plans SET state = 'closed' WHERE owner = ?", (owner,))
        return cancelled

    def owners(self) -> set[str]:
        """Every process that holds a lease on a request or a plan."""
        rows = self._db.all(
            "SELECT lease_owner FROM frame_requests WHERE state = 'processing'"
            " UNION SELECT owner FROM plans WHERE state = 'open'"
        )
        return {str(row[0]) for row in rows if row[0] is not None}

    def expire(self, owner: str) -> None:
        """`owner` is gone: its leases expire now and its plans close."""
        with self._db.transaction():
            self._db.execute(
                "UPDATE frame_requests SET lease_expires_at_ns = 0"
                " WHERE lease_owner = ? AND state = 'processing'",
                (owner,),
            )
            self._db.execute(
                "UPDATE plans SET state = 'closed' WHERE owner = ? AND state = 'open'", (owner,)
            )

    # -- plans --------------------------------------------------------------------------

    def open_plan(self, plan_id: str, *, owner: str, now_ns: int, lease_ns: int) -> None:
        """Register an orchestrator plan; the oldest open plan is the active one."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO plans (plan_id, owner, state, lease_expires_at_ns, created_at_ns)"
                " VALUES (?, ?, 'open', ?, ?) ON CONFLICT (plan_id) DO NOTHING",
                (plan_id, owner, now_ns + lease_ns, now_ns),
            )

    def close_plan(self, plan_id: str) -> None:
        """The plan is finished: the next plan, or direct work, may run."""
        with self._db.transaction():
            self._db.execute("UPDATE plans SET state = 'closed' WHERE plan_id = ?", (plan_id,))

    def renew_plans(self, *, owner: str, until_ns: int) -> None:
        """Extend the leases of `owner`'s open plans (the heartbeat)."""
        with self._db.transaction():
            self._db.execute(
                "UPDATE plans SET lease_expires_at_ns = ? WHERE owner = ? AND state = 'open'",
                (until_ns, owner),
            )

    def active_plan(self, now_ns: int) -> str | None:
        """The plan whose requests run first, if any."""
        # A plan whose process died (lease expired) no longer holds the queue.
        row = self._db.one(
            "SELECT plan_id FROM plans WHERE state = 'open' AND lease_expires_at_ns > ?"
            " ORDER BY created_at_ns, plan_id LIMIT 1",
            (now_ns,),
        )
        return None if row is None else str(row[0])

    # -- stats -----------------------------------------------------------------------------

    def counts(self) -> list[QueueCount]:
        """Per (state, agent, priority): requests, joins, and attempts beyond the first."""
        rows = self._db.all(
            "SELECT state, agent_id, priority, COUNT(*), SUM(joined),"
            " SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END)"
            " FROM frame_requests GROUP BY state, agent_id, priority"
        )
        return [QueueCount(s, a, p, n, j or 0, r or 0) for s, a, p, n, j, r in rows]

    def live_counts(self) -> dict[str, int]:
        """Pending and processing requests, from the claim index (history is not read)."""
        rows = self._db.all(
            f"SELECT state, COUNT(*) FROM frame_requests WHERE {_LIVE} GROUP BY state"
        )
        counts = {"pending": 0, "processing": 0}
        counts.update({state: int(count) for state, count in rows})
        return counts

    def live_count(self) -> int:
        """How many requests are pending or processing."""
        return int(self._db.one(f"SELECT COUNT(*) FROM frame_requests WHERE {_LIVE}")[0])
