"""The one writer of a session: assigns `seq` and commits events to the store.

`record` is cheap and never fails the caller: it numbers the event and hands
it to a background thread, which commits what has gathered in one
transaction, at most every `flush_interval_s`. A follower in another process
thus sees an event within about that interval plus its own poll. The session
row and `session_started` (seq 1) are committed before `start` returns, so a
follower finds the session at once; `end` records `session_ended` and commits
everything left before it returns.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping

from merkle.errors import MerkleError
from merkle.store import EventRepository, EventRow, StorageBackend
from merkle.store.owners import new_owner_id
from merkle.telemetry.model import Event, clean_data, format_ts, new_session_id, scrubbed

FLUSH_INTERVAL_S = 0.05
# An idle writer renews its session's heartbeat this often; readers take a
# session whose heartbeat is much older than this for interrupted.
HEARTBEAT_S = 10.0
_ID_ATTEMPTS = 5


class SessionWriter:
    """Numbers and stores the events of one session (thread-safe)."""

    def __init__(
        self,
        connect: Callable[[], StorageBackend],
        *,
        command: str,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        clock_ns: Callable[[], int] = time.time_ns,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        self._connect = connect
        self._scrub = scrub
        self.command = command
        self._interval = flush_interval_s
        self._clock_ns = clock_ns
        self._lock = threading.Condition()
        self._pending: list[EventRow] = []
        self._seq = 0
        self._ended: tuple[str, int, str] | None = None
        self._closing = False
        self._thread: threading.Thread | None = None
        self._backend: StorageBackend | None = None
        self._store: EventRepository | None = None
        self.session_id = ""
        self.error: str | None = None  # the last failed commit, if events were lost

    def start(self, data: Mapping[str, object] | None = None) -> Event:
        """Create the session and commit `session_started`; start the writer thread.

        The writer has a store connection of its own (`connect` opens it): its
        thread commits while the command works on its own connections.
        """
        self._backend = self._connect()
        self._store = self._backend.events
        try:
            self._create_session()
            started = {"command": self.command, **self._scrubbed(data)}
            event = self.record("session_started", started)
            self._commit(self._take())
        except BaseException:
            self._backend.close()
            self._backend = self._store = None
            raise
        self._thread = threading.Thread(target=self._run, name="merkle-events", daemon=True)
        self._thread.start()
        return event

    def _create_session(self) -> None:
        assert self._store is not None
        started_ns = self._clock_ns()
        owner = new_owner_id()
        for _ in range(_ID_ATTEMPTS):
            self.session_id = new_session_id(started_ns)
            if self._store.create_session(
                self.session_id, command=self.command, owner=owner, started_at_ns=started_ns
            ):
                return
        raise MerkleError("cannot create a session: every drawn id was taken")

    def record(self, event_type: str, data: Mapping[str, object]) -> Event:
        """Number the event and queue it for the store (`data` as the bus cleaned it)."""
        now_ns = self._clock_ns()
        ts = format_ts(now_ns)
        text = json.dumps(clean_data(data), separators=(",", ":"), default=str)
        with self._lock:
            if self._ended is not None or self._closing:
                raise MerkleError(f"session {self.session_id} is closed")
            self._seq += 1
            event = Event(ts, self.session_id, self._seq, event_type, data)
            self._pending.append(EventRow(self.session_id, self._seq, ts, event_type, text))
            if event_type == "session_ended":
                self._ended = (self.session_id, now_ns, str(data.get("outcome", "completed")))
            self._lock.notify()
        return event

    def end(self, outcome: str, data: Mapping[str, object] | None = None) -> Event | None:
        """Record `session_ended` and commit everything; idempotent."""
        with self._lock:
            if self._ended is not None or self._closing or not self.session_id:
                return None
        event = self.record("session_ended", {**self._scrubbed(data), "outcome": outcome})
        self.close()
        return event

    def close(self) -> None:
        """Stop the thread, commit what is left and close the connection (no event)."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._commit(self._take())
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def _scrubbed(self, data: Mapping[str, object] | None) -> dict[str, object]:
        """Start and end data come from the caller, not through a bus: scrub them here."""
        cleaned = clean_data(data or {})
        return scrubbed(cleaned, self._scrub) if self._scrub is not None else cleaned

    def _run(self) -> None:
        while True:
            with self._lock:
                woken = self._lock.wait_for(
                    lambda: bool(self._pending) or self._closing, HEARTBEAT_S
                )
                if self._closing:
                    return
            if not woken:
                self._beat()
                continue
            self._commit(self._take())
            # Gather what comes next into one commit instead of one per event.
            with self._lock:
                self._lock.wait_for(lambda: self._closing, self._interval)

    def _take(self) -> tuple[list[EventRow], tuple[str, int, str] | None]:
        with self._lock:
            batch, self._pending = self._pending, []
            ended = self._ended if batch and batch[-1].type == "session_ended" else None
        return batch, ended

    def _commit(self, taken: tuple[list[EventRow], tuple[str, int, str] | None]) -> None:
        batch, ended = taken
        if not batch or self._store is None:
            return
        try:
            self._store.append(batch, now_ns=self._clock_ns(), ended=ended)
        except Exception as error:  # a lost event must never fail the work it describes
            # Kept for the next commit (the last one is in `close`); only a
            # failure there loses them.
            events = "1 event" if len(batch) == 1 else f"{len(batch)} events"
            self.error = f"{events} not stored: {error}"
            with self._lock:
                self._pending[:0] = batch
            return
        self.error = None

    def _beat(self) -> None:
        if self._store is None:
            return
        with contextlib.suppress(Exception):  # a busy store: the next beat will do
            self._store.beat(self.session_id, self._clock_ns())
