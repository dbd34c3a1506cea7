"""The EventBus: the sink services emit to, fanned out in process.

Each event is cleaned (plain JSON values, every string passed through the
bus's `scrub`, so a credential that slipped into an error message is
redacted), numbered and stored by the recorder, then handed to every
subscriber in `seq` order. A failing subscriber is dropped from that event,
never the emitter's problem.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from merkle.telemetry.model import Event, clean_data, format_ts, scrubbed

Listener = Callable[[Event], None]


class Recorder(Protocol):
    """Assigns `seq` (and stores the event, for the session writer)."""

    session_id: str

    def record(self, event_type: str, data: Mapping[str, object]) -> Event:
        """Number the event and keep it."""
        ...


class MemoryRecorder:
    """A recorder that keeps the session in memory (library use and tests), or with
    `keep=False` only numbers the events (a run that cannot be stored)."""

    def __init__(
        self, session_id: str, *, clock_ns: Callable[[], int] = time.time_ns, keep: bool = True
    ) -> None:
        self.session_id = session_id
        self._clock_ns = clock_ns
        self._keep = keep
        self._seq = 0
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def record(self, event_type: str, data: Mapping[str, object]) -> Event:
        """Number the event (and keep it)."""
        with self._lock:
            self._seq += 1
            event = Event(format_ts(self._clock_ns()), self.session_id, self._seq, event_type, data)
            if self._keep:
                self.events.append(event)
        return event


class EventBus:
    """An `EventSink` over a recorder, with in-process subscribers."""

    def __init__(self, recorder: Recorder, *, scrub: Callable[[str], str] | None = None) -> None:
        self._recorder = recorder
        self._scrub = scrub
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.failures = 0  # events that could not be recorded

    @property
    def session_id(self) -> str:
        """The session every event of this bus belongs to."""
        return self._recorder.session_id

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every later event, in `seq` order."""
        with self._lock:
            self._listeners.append(listener)

    def emit(self, event_type: str, data: Mapping[str, object]) -> None:
        """Clean, record and fan out one event; never raises."""
        # One lock around numbering and fan-out keeps subscribers in seq order
        # when several threads emit.
        with self._lock:
            try:
                cleaned = clean_data(data)
                if self._scrub is not None:
                    cleaned = scrubbed(cleaned, self._scrub)
                event = self._recorder.record(event_type, cleaned)
            except Exception:  # e.g. a closed session: the event has nowhere to go
                self.failures += 1
                return
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:  # a display's bug must not stop the work
                    continue
