"""SIGTERM and SIGHUP stop a command as Ctrl-C does: `timeout`, CI runners and
`docker stop` send SIGTERM, a closed terminal SIGHUP, and each deserves the same
clean stop (finished frames kept, leases and waiters given back) as a Ctrl-C.

Each is passed on as SIGINT, so one stopping path serves all three; the exit
status still says which signal it was (128 + its number). A second signal
aborts at once, as a second Ctrl-C does.
"""

from __future__ import annotations

import signal
from types import FrameType

_received: list[int] = []
_FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def install() -> None:
    """Pass SIGTERM and SIGHUP on as SIGINT for the rest of this process."""
    for number in _FORWARDED:
        signal.signal(number, _forward)


def _forward(number: int, frame: FrameType | None) -> None:
    _received.append(number)
    signal.raise_signal(signal.SIGINT)


def interrupted_exit_code() -> int:
    """The exit status of a command stopped by a signal: 128 + the signal's number."""
    return 128 + (_received[-1] if _received else signal.SIGINT)


STOPPED_EXIT_CODES = frozenset(128 + number for number in (signal.SIGINT, *_FORWARDED))
"""Exit statuses that mean the command was stopped, not that it failed."""
