"""The frame generation queue: the only path to providers (lifecycle only)."""

from merkle.context.queue.policy import RetryDecision, RetrySettings, decide_retry
from merkle.context.queue.request import FrameRequest, Priority
from merkle.telemetry.sink import EventSink, ListSink, NullSink

__all__ = [
    "EventSink",
    "FrameRequest",
    "ListSink",
    "NullSink",
    "Priority",
    "RetryDecision",
    "RetrySettings",
    "decide_retry",
]
