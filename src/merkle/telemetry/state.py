"""A session's state, folded from its events: what the TUI and `sessions show` draw.

`SessionState.apply` takes events in `seq` order. Folding the stored events of
a session (replay) gives the same state as folding them live from the bus.
Unknown event types and unknown data fields are ignored, so a newer writer
stays readable.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from merkle.telemetry.model import Event


class NodeStatus(Enum):
    """Where one node's generation stands."""

    WAITING = "waiting"
    SENDING = "sending"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"


@dataclass
class NodeView:
    """One node of the run."""

    path: str
    level: int | None = None
    status: NodeStatus = NodeStatus.WAITING
    attempts: int = 0
    latency_ms: int | None = None
    error_class: str | None = None
    message: str | None = None


@dataclass
class LevelView:
    """One level of the plan (index 0 is the deepest, generated first)."""

    index: int
    total: int = 0
    done: int = 0
    failed: int = 0
    started: bool = False
    completed: bool = False


@dataclass
class Problem:
    """A retry or a failure, as the run reported it."""

    path: str
    error_class: str
    message: str
    delay_s: float | None = None


@dataclass
class SessionState:
    """Everything the events of one session say, folded."""

    session_id: str = ""
    command: str = ""
    started_ts: str | None = None
    ended_ts: str | None = None
    outcome: str | None = None
    last_seq: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    levels: list[LevelView] = field(default_factory=list)
    nodes: dict[str, NodeView] = field(default_factory=dict)
    skipped: int = 0
    latencies_ms: list[int] = field(default_factory=list)
    retries: list[Problem] = field(default_factory=list)
    failures: list[Problem] = field(default_factory=list)
    queue: dict[str, Any] = field(default_factory=dict)
    scan: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def replay(cls, events: list[Event]) -> SessionState:
        """The state after `events`."""
        state = cls()
        for event in events:
            state.apply(event)
        return state

    @property
    def ended(self) -> bool:
        """Whether `session_ended` has been seen."""
        return self.ended_ts is not None

    def latency_summary(self) -> dict[str, float | int]:
        """Count, median, 95th percentile and max of the provider latencies (ms)."""
        if not self.latencies_ms:
            return {"count": 0}
        ordered = sorted(self.latencies_ms)
        return {
            "count": len(ordered),
            "p50": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
            "max": ordered[-1],
        }

    def status_counts(self) -> dict[str, int]:
        """How many nodes are in each status."""
        counts = {status.value: 0 for status in NodeStatus}
        for node in self.nodes.values():
            counts[node.status.value] += 1
        return counts

    def apply(self, event: Event) -> None:
        """Fold one event in; unknown types change nothing but `last_seq`."""
        self.last_seq = max(self.last_seq, event.seq)
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event.ts, event.data)
        if not self.session_id:
            self.session_id = event.session

    def node(self, path: str) -> NodeView:
        """The node at `path`, created waiting on first mention."""
        view = self.nodes.get(path)
        if view is None:
            view = self.nodes[path] = NodeView(path=path)
        return view

    def level(self, index: int) -> LevelView:
        """Level `index`, created on first mention (`_int` keeps it in range)."""
        while len(self.levels) <= index:
            self.levels.append(LevelView(index=len(self.levels)))
        return self.levels[index]


def _text(data: Any, key: str, default: str = "") -> str:
    value = data.get(key)
    return value if isinstance(value, str) else default


MAX_LEVELS = 10_000  # deeper than any real tree; a damaged event must not allocate more


def _int(data: Any, key: str) -> int | None:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if 0 <= value < MAX_LEVELS or key not in _LEVEL_KEYS else None


_LEVEL_KEYS = frozenset({"level", "total_levels"})


def _session_started(state: SessionState, ts: str, data: Any) -> None:
    state.started_ts = ts
    state.command = _text(data, "command")


def _session_ended(state: SessionState, ts: str, data: Any) -> None:
    state.ended_ts = ts
    state.outcome = _text(data, "outcome", "completed")


def _plan(state: SessionState, ts: str, data: Any) -> None:
    keys = ("plan_id", "target_path", "total_nodes", "total_levels", "failure_policy")
    state.plan.update({key: data[key] for key in keys if key in data})
    total_levels = _int(data, "total_levels")
    if total_levels:
        state.level(total_levels - 1)


def _node_skipped(state: SessionState, ts: str, data: Any) -> None:
    state.skipped += 1


def _level_started(state: SessionState, ts: str, data: Any) -> None:
    index = _int(data, "level")
    if index is not None:
        level = state.level(index)
        level.started = True
        level.total = _int(data, "total") or level.total


def _level_completed(state: SessionState, ts: str, data: Any) -> None:
    index = _int(data, "level")
    if index is not None:
        level = state.level(index)
        level.completed = True
        level.done = _int(data, "generated") or 0
        level.failed = _int(data, "failed") or 0


def _node_started(state: SessionState, ts: str, data: Any) -> None:
    node = state.node(_text(data, "path"))
    node.level = _int(data, "level")


def _node_completed(state: SessionState, ts: str, data: Any) -> None:
    node = state.node(_text(data, "path"))
    node.status = NodeStatus.DONE
    if node.level is not None and not state.level(node.level).completed:
        state.level(node.level).done += 1


def _node_failed(state: SessionState, ts: str, data: Any) -> None:
    node = state.node(_text(data, "path"))
    node.status = NodeStatus.FAILED
    node.error_class = _text(data, "error_class") or node.error_class
    node.message = _text(data, "message") or node.message
    if node.level is not None and not state.level(node.level).completed:
        state.level(node.level).failed += 1
    state.failures.append(Problem(node.path, node.error_class or "error", node.message or "", None))


def _sent(state: SessionState, ts: str, data: Any) -> None:
    node = state.node(_text(data, "path"))
    if node.status not in (NodeStatus.DONE, NodeStatus.FAILED):
        node.status = NodeStatus.SENDING
    node.attempts = _int(data, "attempt") or node.attempts + 1


def _received(state: SessionState, ts: str, data: Any) -> None:
    latency = _int(data, "latency_ms")
    if latency is not None:
        state.latencies_ms.append(latency)
        state.node(_text(data, "path")).latency_ms = latency


def _retrying(state: SessionState, ts: str, data: Any) -> None:
    node = state.node(_text(data, "path"))
    node.status = NodeStatus.RETRYING
    node.error_class = _text(data, "error_class")
    node.message = _text(data, "message")
    delay = data.get("delay_s")
    state.retries.append(
        Problem(
            node.path,
            node.error_class,
            node.message,
            float(delay) if isinstance(delay, int | float) else None,
        )
    )


def _provider_failed(state: SessionState, ts: str, data: Any) -> None:
    node = state.node(_text(data, "path"))
    node.error_class = _text(data, "error_class")
    node.message = _text(data, "message")


def _generation_ended(state: SessionState, ts: str, data: Any) -> None:
    keys = ("total_generated", "total_failed", "error")
    state.result.update({key: data[key] for key in keys if key in data})


def _queue_stats(state: SessionState, ts: str, data: Any) -> None:
    state.queue = {key: value for key, value in data.items() if isinstance(value, int | float)}


def _scan(state: SessionState, ts: str, data: Any) -> None:
    state.scan.update(
        {key: value for key, value in data.items() if isinstance(value, int | float | str)}
    )


_HANDLERS = {
    "session_started": _session_started,
    "session_ended": _session_ended,
    "plan_constructed": _plan,
    "generation_started": _plan,
    "node_skipped": _node_skipped,
    "level_started": _level_started,
    "level_completed": _level_completed,
    "node_generation_started": _node_started,
    "node_generation_completed": _node_completed,
    "node_generation_failed": _node_failed,
    "provider_request_sent": _sent,
    "provider_response_received": _received,
    "provider_request_retrying": _retrying,
    "provider_request_failed": _provider_failed,
    "generation_completed": _generation_ended,
    "generation_failed": _generation_ended,
    "queue_stats": _queue_stats,
    "scan_started": _scan,
    "scan_progress": _scan,
    "scan_completed": _scan,
}
