"""A request for one frame: what the queue schedules and the generation units serve."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from merkle.store import NodeType


class Priority(IntEnum):
    """Scheduling priority; a larger value runs first."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameRequest:
    """One frame to generate.

    Its identity is `(node_id, agent_id, frame_type)`: `provider_name` is not
    part of it, so two requests that differ only in provider are the same work.
    """

    node_id: str
    path: str
    node_type: NodeType
    agent_id: str
    provider_name: str
    frame_type: str
    priority: Priority = Priority.NORMAL
    plan_id: str | None = None
    force: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """The deduplication key."""
        return (self.node_id, self.agent_id, self.frame_type)
