"""The event sink every service reports through (`emit(type, data)`).

Events are for watching (a progress display, the session log); return values
are the programmatic answer. The command line backs the sink with an
`EventBus` that stores the session; library use gets `NullSink`, whose emit
costs nothing. Event data never holds prompt text, frame content or
credentials: ids, paths, names, counts, timings and error messages only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class EventSink(Protocol):
    """Receives events; emitting must be cheap and never fail the caller."""

    def emit(self, event_type: str, data: Mapping[str, object]) -> None:
        """Record one event."""
        ...


class NullSink:
    """A sink that drops every event."""

    def emit(self, event_type: str, data: Mapping[str, object]) -> None:
        """Drop the event."""


class ListSink:
    """A sink that keeps events in memory, in order (for tests and summaries)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def emit(self, event_type: str, data: Mapping[str, object]) -> None:
        """Keep the event."""
        self.events.append((event_type, dict(data)))

    def types(self) -> list[str]:
        """The event types, in order."""
        return [event_type for event_type, _ in self.events]
