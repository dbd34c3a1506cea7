"""The frame generation queue: the only path to providers (lifecycle only)."""

from merkle.context.queue.events import EventSink, ListSink, NullSink
from merkle.context.queue.policy import RetryDecision, RetrySettings, decide_retry
from merkle.context.queue.request import FrameRequest, Priority

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
