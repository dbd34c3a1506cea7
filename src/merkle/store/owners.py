"""Which process owns a row (a lease, a plan, a session), and whether it still runs."""

from __future__ import annotations

import os
import socket
import uuid


def new_owner_id() -> str:
    """`host:pid:token`: unique per owner, and enough to tell whether it is gone."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """Whether `owner` was a process on this machine that no longer runs.

    Owners on other machines cannot be checked and count as alive.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
