"""The backend-neutral values the store persists: the tree, frames and heads, the queue's
requests, sessions and events. Every backend reads and writes these, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple


class NodeType(Enum):
    """What a node of the tree stands for."""

    FILE = "file"
    DIRECTORY = "directory"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRecord:
    """One content-addressed node of the Merkle tree.

    `node_id` derives from `node_type`, `path` and, for a file, `content_hash`,
    for a directory, `children` (`(name, node_id)` sorted by name). A record is
    never changed once written: an edit makes a new record with a new id.
    """

    node_id: str
    path: str
    node_type: NodeType
    size_bytes: int
    content_hash: str | None = None
    children: tuple[tuple[str, str], ...] = ()

    @property
    def child_ids(self) -> tuple[str, ...]:
        """The children's node ids, in name order."""
        return tuple(child_id for _, child_id in self.children)


class TreeEntry(NamedTuple):
    """A path of the current tree, with the stat cache that spares a rescan reading it.

    A named tuple rather than a dataclass: a rescan loads one per path and
    compares them whole, and tuples are several times cheaper at both.

    `checked_at_ns` is when the content hash (a file) or the listing (a
    directory) was last taken from disk: a stat match proves nothing for an entry
    modified that close to it. For a directory, `rules_signature` fingerprints
    its ignore-rule files, `ignored_count` counts the entries the rules left
    out, and `warning_count` the entries that could not be taken in.
    """

    path: str
    node_id: str
    node_type: NodeType
    parent_path: str | None
    size_bytes: int
    mtime_ns: int
    inode: int
    content_hash: str | None
    checked_at_ns: int = 0
    rules_signature: str = ""
    ignored_count: int = 0
    warning_count: int = 0


class FrameKey(NamedTuple):
    """The identity of a frame's line: one head per key, one live request per key.

    `provider_name` is not part of it: two requests that differ only in the
    provider they would call are the same work.
    """

    node_id: str
    agent_id: str
    frame_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One context frame: text about a node, by an agent, of a frame type.

    `frame_id` derives from every field but `created_at_ns`, so the same
    generation yields the same id. `metadata_json` is the canonical JSON of the
    frame's metadata. Frames are append-only: never updated or deleted.
    """

    frame_id: str
    node_id: str
    agent_id: str
    frame_type: str
    content: str
    metadata_json: str
    created_at_ns: int

    @property
    def key(self) -> FrameKey:
        """The key whose line this frame belongs to."""
        return FrameKey(self.node_id, self.agent_id, self.frame_type)


@dataclass(frozen=True, slots=True, kw_only=True)
class Head:
    """The newest frame of a `(node_id, agent_id, frame_type)` key."""

    node_id: str
    agent_id: str
    frame_type: str
    frame_id: str
    created_at_ns: int

    @property
    def key(self) -> FrameKey:
        """The key this head points for."""
        return FrameKey(self.node_id, self.agent_id, self.frame_type)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanCounts:
    """What a scan saw: tree totals and the work it did."""

    files: int = 0
    directories: int = 0
    bytes: int = 0
    hashed: int = 0
    reused: int = 0
    ignored: int = 0
    warnings: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanRecord:
    """One finished scan: when it ran, what it found, and the root it produced."""

    scan_id: int
    started_at_ns: int
    finished_at_ns: int
    root_node_id: str
    counts: ScanCounts

    @property
    def duration_s(self) -> float:
        """Wall time of the scan in seconds."""
        return (self.finished_at_ns - self.started_at_ns) / 1e9


# -- the queue ---------------------------------------------------------------------------


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


# The waiter a submission that does not wait is recorded as: it still wants the
# frame, so no other process's Ctrl-C cancels the work.
DETACHED = "(detached)"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRequest:
    """A request to store: its key, what it is about, and how it is scheduled."""

    key: FrameKey
    path: str
    node_type: NodeType
    provider_name: str
    priority: int
    plan_id: str | None
    force: bool
    superseded_frame_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRequest:
    """A request as stored, with its state and outcome."""

    request_id: int
    key: FrameKey
    path: str
    node_type: NodeType
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
    first_attempt_at_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Enqueued:
    """What storing a request did: the live request of its key, and whether it was
    already there (the new request joined it)."""

    request: StoredRequest
    joined: bool


class AgentLoad(NamedTuple):
    """One agent's calls in flight under a live lease, and when it last started one."""

    agent_id: str
    in_flight: int
    last_start_ns: int | None


class QueueCount(NamedTuple):
    """Requests of one state, agent and priority: how many, how many joins they took,
    and their attempts beyond the first."""

    state: str
    agent_id: str
    priority: int
    requests: int
    joined: int
    retried: int


# -- sessions and events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderCheck:
    """What is known of a provider's credentials under one configuration fingerprint:
    `probing` (by `owner`, until `until_ns`), `verified`, or `rejected` (why, and the hint)."""

    provider_name: str
    fingerprint: str
    state: str
    owner: str | None = None
    until_ns: int | None = None
    message: str | None = None
    hint: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EgressEntry:
    """One request about to leave for a remote provider: what, for which node, where."""

    sent_at_ns: int
    workspace: str
    path: str
    node_id: str
    agent_id: str
    provider_name: str
    host: str
    model: str
    bytes_sent: int
    tokens_estimate: int
    prompt_digest: str
    redaction_rules: tuple[str, ...]
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EgressOutcome:
    """How a request that left came back: `ok` or the failure's class, and usage."""

    status: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    finished_at_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EgressRow:
    """A ledger row: the entry, and its outcome once known."""

    egress_id: int
    entry: EgressEntry
    outcome: EgressOutcome | None


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
