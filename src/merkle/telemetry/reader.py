"""Reading sessions back: list, show, follow a live one, replay, prune.

A reader only reads the store, so it works from any process, before, during
or after the command it watches. A session is `running` until its
`session_ended` is stored; one whose process is gone without it was
`interrupted` (a crash, a kill) and stays readable. Pruning removes completed
sessions only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from merkle.store import EventRow, SessionRow, StorageBackend
from merkle.store.owners import owner_is_dead
from merkle.telemetry.model import Event, format_ts
from merkle.telemetry.state import SessionState
from merkle.telemetry.writer import HEARTBEAT_S

POLL_INTERVAL_S = 0.05
STALE_AFTER_S = 6 * HEARTBEAT_S


class SessionStatus(Enum):
    """Where a session stands, as a reader sees it."""

    RUNNING = "running"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One session's summary."""

    session_id: str
    command: str
    status: SessionStatus
    outcome: str | None
    started_at: str
    ended_at: str | None
    events: int
    started_at_ns: int

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON object."""
        return {
            "session_id": self.session_id,
            "command": self.command,
            "status": self.status.value,
            "outcome": self.outcome,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "events": self.events,
        }


def session_info(row: SessionRow, *, now_ns: int | None = None) -> SessionInfo:
    """The summary of a stored session, with its status.

    A session without an end is interrupted when its process is gone (on this
    machine) or its writer stopped renewing the heartbeat (any machine, or a
    pid that was reused).
    """
    now = time.time_ns() if now_ns is None else now_ns
    if row.ended_at_ns is not None:
        status = SessionStatus.COMPLETED
    elif owner_is_dead(row.owner) or now - row.heartbeat_ns > STALE_AFTER_S * 1e9:
        status = SessionStatus.INTERRUPTED
    else:
        status = SessionStatus.RUNNING
    return SessionInfo(
        session_id=row.session_id,
        command=row.command,
        status=status,
        outcome=row.outcome,
        started_at=format_ts(row.started_at_ns),
        ended_at=format_ts(row.ended_at_ns) if row.ended_at_ns is not None else None,
        events=row.last_seq,
        started_at_ns=row.started_at_ns,
    )


def event_of(row: EventRow) -> Event:
    """A stored event; data that is not a JSON object reads as empty."""
    try:
        data = json.loads(row.data)
    except ValueError:
        data = {}
    return Event(
        ts=row.ts,
        session=row.session_id,
        seq=row.seq,
        type=row.type,
        data=data if isinstance(data, dict) else {},
    )


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune removed and what it kept on purpose."""

    deleted: tuple[str, ...]
    kept_running: int
    kept_interrupted: int

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return {
            "deleted": list(self.deleted),
            "kept_running": self.kept_running,
            "kept_interrupted": self.kept_interrupted,
        }


class SessionReader:
    """Reads sessions and events from a workspace database."""

    def __init__(
        self, store: StorageBackend, *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self._store = store.events
        self._clock_ns = clock_ns

    def _info(self, row: SessionRow) -> SessionInfo:
        return session_info(row, now_ns=self._clock_ns())

    def sessions(self, *, limit: int | None = None) -> list[SessionInfo]:
        """Sessions, newest first."""
        return [self._info(row) for row in self._store.sessions(limit=limit)]

    def get(self, prefix: str) -> SessionInfo:
        """The session whose id is or starts with `prefix` (UsageError otherwise)."""
        return self._info(self._store.find(prefix))

    def current(self) -> SessionInfo | None:
        """The newest running session, else the newest session, else None."""
        sessions = self.sessions(limit=50)
        running = [info for info in sessions if info.status is SessionStatus.RUNNING]
        chosen = running or sessions
        return chosen[0] if chosen else None

    def events(self, session_id: str, *, after_seq: int = 0) -> list[Event]:
        """Events with seq > `after_seq`, in seq order."""
        return [event_of(row) for row in self._store.events(session_id, after_seq=after_seq)]

    def replay(self, session_id: str) -> SessionState:
        """The session's state rebuilt from its stored events."""
        return SessionState.replay(self.events(session_id))

    def status(self, session_id: str) -> SessionStatus | None:
        """The session's status now, None if it is gone."""
        row = self._store.session(session_id)
        return self._info(row).status if row is not None else None

    def follow(
        self,
        session_id: str,
        *,
        after_seq: int = 0,
        poll_s: float = POLL_INTERVAL_S,
        timeout_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Iterator[Event]:
        """Yield the session's events as they are committed, from `after_seq` on.

        Ends after `session_ended`, when the session turns out interrupted (all
        its stored events yielded), or after `timeout_s`.
        """
        deadline = None if timeout_s is None else clock() + timeout_s
        seq = after_seq
        while True:
            batch = self.events(session_id, after_seq=seq)
            for event in batch:
                seq = event.seq
                yield event
                if event.type == "session_ended":
                    return
            if not batch and self.status(session_id) is not SessionStatus.RUNNING:
                # Nothing more will come: interrupted, or ended between reads.
                tail = self.events(session_id, after_seq=seq)
                yield from tail
                return
            if deadline is not None and clock() >= deadline:
                return
            if not batch:
                sleep(poll_s)

    def prune(
        self,
        *,
        keep: int | None = None,
        older_than_s: float | None = None,
        now_ns: int | None = None,
    ) -> PruneResult:
        """Delete completed sessions beyond the newest `keep`, or started more than
        `older_than_s` ago. Running and interrupted sessions are never pruned."""
        sessions = self.sessions()
        completed = [info for info in sessions if info.status is SessionStatus.COMPLETED]
        now = self._clock_ns() if now_ns is None else now_ns
        doomed: list[str] = []
        for rank, info in enumerate(completed):
            too_many = keep is not None and rank >= keep
            too_old = older_than_s is not None and now - info.started_at_ns > older_than_s * 1e9
            if too_many or too_old:
                doomed.append(info.session_id)
        return PruneResult(
            deleted=tuple(self._store.delete(doomed)),
            kept_running=sum(info.status is SessionStatus.RUNNING for info in sessions),
            kept_interrupted=sum(info.status is SessionStatus.INTERRUPTED for info in sessions),
        )
