"""The frame generation queue: the only path to providers (lifecycle only, seed 001 C4).

- `contract`: the request, its key and priority, the generation units' one
  contract (`FrameGenerator`), enqueue results, stats and settings.
- `producer`: submitting and waiting; `worker`: the only loop that runs
  requests; `waiters`: outcomes resolved in process or noticed in the store;
  `offload`: the store connection on a thread of its own.
- `policy`: the pure decisions (retry, rate, per-agent blocking).
- `queue`: `FrameGenerationQueue`, the three parts behind one lifecycle
  (imported from its module: the package itself stays light to import).
"""

from merkle.context.queue.contract import (
    EnqueueResult,
    EnqueueStatus,
    FrameGenerator,
    FrameRequest,
    Priority,
    QueueSettings,
    QueueStats,
    RequestFailed,
)
from merkle.context.queue.policy import (
    AgentLimits,
    RetryDecision,
    RetrySettings,
    blocked_agents,
    decide_retry,
    min_interval_s,
)
from merkle.store import FrameKey
from merkle.telemetry.sink import EventSink, ListSink, NullSink

__all__ = [
    "AgentLimits",
    "EnqueueResult",
    "EnqueueStatus",
    "EventSink",
    "FrameGenerator",
    "FrameKey",
    "FrameRequest",
    "ListSink",
    "NullSink",
    "Priority",
    "QueueSettings",
    "QueueStats",
    "RequestFailed",
    "RetryDecision",
    "RetrySettings",
    "blocked_agents",
    "decide_retry",
    "min_interval_s",
]
