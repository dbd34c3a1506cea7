"""Which session the monitor shows, and its state folded from the store.

Kept free of the UI so that the polling rules can be read on their own: the
monitor follows either one chosen session or "the current one" (the newest
running session, else the newest). A current session is followed to its end
and stays on screen until the next session starts, which then takes its
place: the monitor can be opened before `merkle scan && merkle context
generate` in another terminal and shows each in turn.
"""

from __future__ import annotations

from merkle.errors import MerkleError
from merkle.telemetry.reader import SessionReader, SessionStatus
from merkle.telemetry.state import SessionState


class SessionFollower:
    """Polls the store for one session's new events and folds them."""

    def __init__(self, reader: SessionReader, session_id: str | None = None) -> None:
        self.reader = reader
        self._wanted = session_id  # an id (or prefix) asked for, not resolved yet
        self.follow_current = session_id is None
        self.session_id: str | None = None
        self.status: SessionStatus | None = None
        self.state = SessionState()
        self.problem: str | None = None  # what went wrong finding the session
        self.switched = False  # a different session since the last `take_switched`
        self.touched: set[str] = set()  # node paths changed since the last `take_touched`

    def poll(self) -> bool:
        """Read what is new in the store; True when there is something new to draw."""
        changed = self._choose()
        if self.session_id is None:
            return changed
        events = self.reader.events(self.session_id, after_seq=self.state.last_seq)
        for event in events:
            self.state.apply(event)
            path = event.data.get("path")
            if isinstance(path, str):
                self.touched.add(path)
        return self._check_status() or changed or bool(events)

    def open(self, session_id: str) -> None:
        """Show `session_id` from its first event on, and stop following the current one."""
        self.follow_current = False
        self._wanted = None
        self._select(session_id)

    def show_current(self) -> None:
        """Follow the current session from now on (and show it now, if there is one)."""
        self.follow_current = True
        self._wanted = None
        info = self.reader.current()
        if info is not None and info.session_id != self.session_id:
            self._select(info.session_id)
        elif self.session_id is None:
            self.problem = None  # no longer looking for the id that was asked for

    def take_switched(self) -> bool:
        """Whether the session changed since the last call (the view must start over)."""
        switched, self.switched = self.switched, False
        return switched

    def take_touched(self) -> set[str]:
        """The node paths that new events mentioned since the last call."""
        touched, self.touched = self.touched, set()
        return touched

    def _choose(self) -> bool:
        if self._wanted is not None and self.session_id is None:
            return self._resolve(self._wanted)
        if not self.follow_current or self.status is SessionStatus.RUNNING:
            return False  # a running session is followed to its end
        info = self.reader.current()
        if info is None or info.session_id == self.session_id:
            return False
        if self.session_id is not None and info.status is not SessionStatus.RUNNING:
            return False  # keep what is shown until a new run starts
        self._select(info.session_id)
        return True

    def _resolve(self, wanted: str) -> bool:
        try:
            info = self.reader.get(wanted)
        except MerkleError as error:
            message = str(error)
            changed, self.problem = message != self.problem, message
            return changed
        self._wanted = None
        self._select(info.session_id)
        return True

    def _select(self, session_id: str) -> None:
        self.session_id = session_id
        self.state = SessionState(session_id=session_id)
        self.status = self.reader.status(session_id)
        self.problem = None if self.status is not None else f"session {session_id} is gone"
        self.switched = True
        self.touched = set()

    def _check_status(self) -> bool:
        if self.session_id is None or self.status not in (SessionStatus.RUNNING, None):
            return False  # completed and interrupted sessions do not change any more
        status = self.reader.status(self.session_id)
        if status is None and self.status is not None:
            self.problem = f"session {self.session_id} is gone"
        changed = status != self.status
        self.status = status
        return changed
