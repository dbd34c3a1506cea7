"""Events and sessions: the model, the in-process bus, the store writer, follow,
replay and pruning. Readers ignore event types and fields they do not know."""

from merkle.telemetry.sink import EventSink, ListSink, NullSink

__all__ = ["EventSink", "ListSink", "NullSink"]
