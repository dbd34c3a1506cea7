"""A store connection shared by an event loop's tasks and its worker threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


async def under_lock(
    lock: threading.Lock, function: Callable[..., _T], *args: object, **kwargs: object
) -> _T:
    """`function(*args, **kwargs)` on a worker thread, holding `lock` (the one that
    guards the connection it uses), so the event loop never waits on the store."""

    def locked() -> _T:
        with lock:
            return function(*args, **kwargs)

    return await asyncio.to_thread(locked)
