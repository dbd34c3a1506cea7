"""The queue's contract: what producers submit, what the worker calls, what comes back.

Identity is a value: a `FrameKey(node_id, agent_id, frame_type)` travels from
the plan item to the request, the stored row and the frame draft. A request
that differs from another only in its provider is the same work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Protocol

from merkle.context.api import FrameDraft
from merkle.context.queue.policy import AgentLimits, RetrySettings
from merkle.errors import GenerationError, GenerationFailure
from merkle.store import FrameKey, NodeType, StoredRequest


class Priority(IntEnum):
    """Scheduling priority; a larger value runs first."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameRequest:
    """One frame to generate: its key, the node it is about, and how it is scheduled."""

    key: FrameKey
    path: str
    node_type: NodeType
    provider_name: str
    priority: Priority = Priority.NORMAL
    plan_id: str | None = None
    force: bool = False

    @property
    def node_id(self) -> str:
        """The node the frame is about."""
        return self.key.node_id

    @property
    def agent_id(self) -> str:
        """The agent whose prompts write it."""
        return self.key.agent_id

    @property
    def frame_type(self) -> str:
        """The type of frame."""
        return self.key.frame_type

    @classmethod
    def from_stored(cls, stored: StoredRequest) -> FrameRequest:
        """The request a stored row carries."""
        return cls(
            key=stored.key,
            path=stored.path,
            node_type=stored.node_type,
            provider_name=stored.provider_name,
            priority=Priority(stored.priority),
            plan_id=stored.plan_id,
            force=stored.force,
        )


class FrameGenerator(Protocol):
    """The generation units' one contract, as the queue worker calls it."""

    async def generate(
        self, request: FrameRequest, *, attempt: int, request_id: int | None = None
    ) -> FrameDraft:
        """A frame draft for `request`, or a `GenerationError` saying why not."""
        ...


class EnqueueStatus(Enum):
    """What `enqueue` did with a request."""

    ENQUEUED = "enqueued"
    DEDUPLICATED = "deduplicated"  # joined live work for the same key
    HEAD_EXISTS = "head_exists"  # the key has a frame already: no work


@dataclass(frozen=True, slots=True, kw_only=True)
class EnqueueResult:
    """The request id (None when a head answered at once), what happened, and the frame
    id when it is already known."""

    request_id: int | None
    status: EnqueueStatus
    frame_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSettings:
    """Sizes and timings of the queue."""

    max_live: int = 10_000
    lease_s: float = 30.0
    heartbeat_s: float = 10.0
    stats_s: float = 1.0  # how often a `queue_stats` event reports the counts
    poll_s: float = 0.05
    # The longest an idle worker goes without a claim when nothing it can see changed.
    idle_claim_s: float = 1.0
    workers: int = 32
    retry: RetrySettings = field(default_factory=RetrySettings)
    default_limits: AgentLimits = field(default_factory=lambda: AgentLimits(max_concurrent=4))


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    """Requests by state, and the deduplicated and retried counts, in all and by
    priority and by agent."""

    pending: int
    processing: int
    completed: int
    failed: int
    cancelled: int
    deduplicated: int
    retried: int
    by_priority: dict[str, dict[str, int]]
    by_agent: dict[str, dict[str, int]]


class RequestFailed(GenerationError):
    """A request's final failure, whichever attempt or process produced it."""

    def __init__(self, failure: GenerationFailure, *, attempts: int) -> None:
        super().__init__(failure)
        self.attempts = attempts

    @property
    def error_class(self) -> str:
        """The failure's stable class name."""
        return self.failure.error_class
