"""The storage seam: what every backend offers, as repositories over one transaction.

Everything above `merkle.store` reaches its data through a `StorageBackend`,
never through a driver: the repositories speak the backend-neutral values of
`merkle.store.records`, and every driver error leaves the backend as a
`StoreError` (`StoreBusy`, `StoreCorrupt`, `StoreReadOnly`, `StoreConflict`).

Each repository method is atomic on its own. `transaction()` groups several
into one: calls made inside it join it, and a nested `transaction()` is a
savepoint, so an error rolls back only what that inner block wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from merkle.store.records import (
    AgentLoad,
    EgressEntry,
    EgressOutcome,
    EgressRow,
    Enqueued,
    EventRow,
    Frame,
    FrameKey,
    Head,
    NewRequest,
    NodeRecord,
    ProviderCheck,
    QueueCount,
    RequestState,
    ScanCounts,
    ScanRecord,
    SessionRow,
    StoredRequest,
    TreeEntry,
)


class NodeRepository(Protocol):
    """Node records (content-addressed, never changed), the current tree and the scans."""

    def load_tree(self) -> dict[str, TreeEntry]:
        """Every entry of the current tree by path (the stat cache of a rescan)."""
        ...

    def entry(self, path: str) -> TreeEntry | None:
        """The current tree's entry at `path`, if there is one."""
        ...

    def tree_paths(self) -> dict[str, str]:
        """Every path of the current tree with its node id, whether or not the record exists."""
        ...

    def get(self, node_id: str) -> NodeRecord | None:
        """The node record with this id, with its children, if stored."""
        ...

    def size_of(self, node_id: str) -> int | None:
        """The size in bytes of the stored node (a directory: of its files), if stored."""
        ...

    def exists(self, node_id: str) -> bool:
        """Whether a node record with this id is stored."""
        ...

    def find(self, prefix: str) -> list[str]:
        """The stored node ids that start with `prefix` (at most two: enough to tell)."""
        ...

    def iter_records(self) -> Iterator[NodeRecord]:
        """Every stored node record, with its children."""
        ...

    def count_records(self) -> int:
        """How many node records are stored."""
        ...

    def last_scan(self) -> ScanRecord | None:
        """The newest finished scan, if any."""
        ...

    def write_scan(
        self,
        *,
        records: Iterable[NodeRecord],
        upserts: Sequence[TreeEntry],
        removed: Sequence[str],
        started_at_ns: int,
        finished_at_ns: int,
        root_node_id: str,
        counts: ScanCounts,
        imports: Mapping[str, Sequence[str]] | None = None,
    ) -> ScanRecord:
        """Store a scan at once: new records, the tree's changes, the imports read
        from new content (by content hash) and the scan row.

        Records already stored are left as they are (they are content-addressed).
        """
        ...

    def import_hashes(self) -> set[str]:
        """The content hashes whose imports are stored."""
        ...

    def tree_imports(self) -> dict[str, tuple[str, ...]]:
        """What each file of the current tree imports, as its text spells it, by path
        (files whose imports were never read are absent)."""
        ...


class FrameRepository(Protocol):
    """Append-only frames and the head of each key."""

    def append(self, frame: Frame) -> bool:
        """Store `frame` and move its key's head to it unless the head is newer, at once.

        Returns False, writing nothing, when a frame with this id is already stored.
        """
        ...

    def get(self, frame_id: str) -> Frame | None:
        """The frame with this id, if stored."""
        ...

    def head(self, key: FrameKey) -> Head | None:
        """The head of a key, if it has one."""
        ...

    def head_frame(self, key: FrameKey) -> Frame | None:
        """The frame the key's head points at, if any."""
        ...

    def history(self, path: str, agent_id: str, frame_type: str) -> list[Frame]:
        """Every frame ever written for `path`, across its node ids, newest first (ties:
        the later write first)."""
        ...

    def iter_frames(self) -> Iterator[Frame]:
        """Every stored frame."""
        ...

    def iter_heads(self) -> Iterator[Head]:
        """Every head."""
        ...

    def count(self) -> int:
        """How many frames are stored."""
        ...

    def head_count(self) -> int:
        """How many keys have a head."""
        ...

    def part_summary(self, digest: str) -> str | None:
        """The summary written for the part prompt with this digest, if any."""
        ...

    def put_part_summary(self, digest: str, content: str, *, now_ns: int) -> None:
        """Keep the summary of the part prompt with this digest (the first one wins)."""
        ...


class QueueRepository(Protocol):
    """The durable state of the frame generation queue: requests, waiters, plans, starts.

    A live request (pending or processing) is unique per key: storing a second
    one joins the first. A claim hands a request to one owner under a lease.
    """

    def enqueue(
        self, requests: Sequence[NewRequest], *, owner: str, now_ns: int, max_live: int, wait: bool
    ) -> list[Enqueued]:
        """Store `requests`, each as a new live request or joined to its key's live one,
        all or none. With `wait`, `owner` is recorded as a waiter of each (else the
        detached waiter). Raises `QueueFull` (nothing stored) when new requests would
        take the live count past `max_live`."""
        ...

    def get(self, request_id: int) -> StoredRequest:
        """The request with this id."""
        ...

    def outcomes(self, request_ids: Iterable[int]) -> dict[int, StoredRequest]:
        """The requests among `request_ids` that are no longer live."""
        ...

    def agent_load(self, now_ns: int) -> list[AgentLoad]:
        """Per agent, the calls in flight under a live lease and the last start (one read)."""
        ...

    def claim(
        self,
        *,
        owner: str,
        now_ns: int,
        lease_ns: int,
        excluded_agents: Sequence[str] = (),
        excluded_providers: Sequence[str] = (),
    ) -> StoredRequest | None:
        """Take the next runnable request for `owner`, atomically, or None.

        Runnable: processing under an expired lease (its process died) first,
        then pending and due. Only the active plan's requests run while a plan
        is active; requests of `excluded_agents` and `excluded_providers` are
        left. Higher priority
        first, then the oldest. The claim records the agent's start time.
        """
        ...

    def has_runnable(self, now_ns: int, *, excluded_providers: Sequence[str] = ()) -> bool:
        """Whether any request, of a provider not in `excluded_providers`, may be claimed
        now (a read: no write lock is taken)."""
        ...

    def next_due_ns(self, now_ns: int) -> int | None:
        """When the earliest request becomes runnable (a pending one due, or a lease that
        expires), not before `now_ns`; None when nothing is pending or processing."""
        ...

    def renew(self, *, owner: str, request_ids: Iterable[int], until_ns: int) -> None:
        """Extend `owner`'s leases on `request_ids` (the heartbeat)."""
        ...

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
        """Record the final outcome, if `owner` still holds the request; returns the
        finished request, or None when the lease was lost (another process took it)."""
        ...

    def retry_later(
        self, request_id: int, *, owner: str, due_ns: int, error_class: str, error_message: str
    ) -> bool:
        """Put a failed attempt back as pending until `due_ns`, if `owner` holds it."""
        ...

    def pause_provider(self, provider_name: str, *, until_ns: int) -> None:
        """No request of `provider_name` is claimed before `until_ns` (a later pause
        already set is kept)."""
        ...

    def paused_providers(self, now_ns: int) -> list[str]:
        """The providers whose pause has not ended at `now_ns`."""
        ...

    def abandon(self, *, owner: str, now_ns: int) -> list[int]:
        """`owner` stops (Ctrl-C): drop its waits, cancel the live requests nobody else
        waits on - except one another owner runs under a live lease, which is left to
        finish (cancelling it would free its key for a second call) - and hand back
        the rest. Returns the cancelled request ids."""
        ...

    def owners(self) -> set[str]:
        """Every owner named on a processing request or an open plan, whether or not its
        lease has lapsed (an expired owner stays named until its work is taken over)."""
        ...

    def expire(self, owner: str) -> None:
        """`owner` is gone: its leases expire now and its plans close."""
        ...

    def open_plan(self, plan_id: str, *, owner: str, now_ns: int, lease_ns: int) -> None:
        """Register an orchestrator plan; the oldest open plan is the active one."""
        ...

    def close_plan(self, plan_id: str) -> None:
        """The plan is finished: the next plan, or direct work, may run."""
        ...

    def renew_plans(self, *, owner: str, until_ns: int) -> None:
        """Extend the leases of `owner`'s open plans (the heartbeat)."""
        ...

    def active_plan(self, now_ns: int) -> str | None:
        """The plan whose requests run first, if any."""
        ...

    def counts(self) -> list[QueueCount]:
        """Requests per state, agent and priority, with their joins and retries."""
        ...

    def live_counts(self) -> dict[str, int]:
        """Pending and processing requests (history is not read)."""
        ...

    def live_count(self) -> int:
        """How many requests are pending or processing."""
        ...


class EventRepository(Protocol):
    """Sessions and their events."""

    def create_session(
        self, session_id: str, *, command: str, owner: str, started_at_ns: int
    ) -> bool:
        """Insert a session; False when the id is taken."""
        ...

    def beat(self, session_id: str, now_ns: int) -> None:
        """Renew the session's heartbeat: its writer still runs."""
        ...

    def append(
        self, events: Sequence[EventRow], *, now_ns: int, ended: tuple[str, int, str] | None = None
    ) -> None:
        """Store `events` (in seq order) at once, renewing their sessions' heartbeat;
        `ended` is `(session_id, ended_at_ns, outcome)` when the batch closes one."""
        ...

    def sessions(self, *, limit: int | None = None) -> list[SessionRow]:
        """Sessions, newest first."""
        ...

    def session(self, session_id: str) -> SessionRow | None:
        """One session by its full id."""
        ...

    def find(self, prefix: str) -> SessionRow:
        """The one session whose id starts with `prefix`; a `UsageError` otherwise."""
        ...

    def events(self, session_id: str, *, after_seq: int = 0, limit: int = -1) -> list[EventRow]:
        """A session's events with seq > `after_seq`, in seq order."""
        ...

    def delete(self, session_ids: Iterable[str]) -> list[str]:
        """Delete ended sessions and their events; returns the ids deleted. A session
        that has not ended is never deleted."""
        ...


class EgressRepository(Protocol):
    """The ledger of what left for providers: a row before each request, its outcome after."""

    def record(self, entry: EgressEntry) -> int:
        """Commit `entry` (before the request is sent); its id."""
        ...

    def finish(self, egress_id: int, outcome: EgressOutcome) -> None:
        """Add the outcome of a recorded request."""
        ...

    def rows(
        self, *, since_ns: int | None = None, path: str | None = None, provider: str | None = None
    ) -> list[EgressRow]:
        """The rows sent at or after `since_ns`, for nodes at or under `path`, to
        `provider`, oldest first."""
        ...

    def prune(self, *, before_ns: int) -> int:
        """Delete the rows sent before `before_ns`; how many went."""
        ...


class CredentialRepository(Protocol):
    """What is known of each provider's credentials, so that one process probes them and
    a rejection stops every process until the configuration changes."""

    def check(self, provider_name: str) -> ProviderCheck | None:
        """What is known of `provider_name`'s credentials, if anything."""
        ...

    def claim_probe(
        self, provider_name: str, fingerprint: str, *, owner: str, now_ns: int, until_ns: int
    ) -> bool:
        """Become the process that checks these credentials (nothing known of this
        fingerprint, or its probe's lease lapsed); whether it was claimed."""
        ...

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
        ...

    def release(self, provider_name: str, *, owner: str) -> None:
        """Give up a probe that found nothing either way."""
        ...


class StorageBackend(Protocol):
    """One connection to a store: its repositories, transactions and checks."""

    @property
    def location(self) -> str:
        """Where the store is, for messages (a file path, a server and database)."""
        ...

    @property
    def nodes(self) -> NodeRepository:
        """Node records, the current tree and the scans."""
        ...

    @property
    def frames(self) -> FrameRepository:
        """Frames and heads."""
        ...

    @property
    def queue(self) -> QueueRepository:
        """The frame generation queue."""
        ...

    @property
    def egress(self) -> EgressRepository:
        """The egress ledger."""
        ...

    @property
    def credentials(self) -> CredentialRepository:
        """What is known of each provider's credentials."""
        ...

    @property
    def events(self) -> EventRepository:
        """Sessions and events."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """One atomic unit around the repository calls made inside it."""
        ...

    def change_marker(self) -> int:
        """A number that changes when another connection commits to the store: a cheap
        read that tells an idle worker whether looking for work is worth a claim."""
        ...

    def integrity_problems(self) -> list[str]:
        """What the engine's own consistency check finds wrong (empty: none)."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...
