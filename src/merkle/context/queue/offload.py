"""The store, offloaded: one connection on one thread, awaited from the event loop.

Producer, worker and waiters share one `OffloadedStore`, so a store call never
blocks the event loop and every call of this process runs in order on the
same connection. A function given to `call` runs on that thread and may use
`backend` and `api` there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

from merkle.context.api import ContextApi
from merkle.store import StorageBackend

P = ParamSpec("P")
T = TypeVar("T")


class OffloadedStore:
    """A backend opened by `connect` on a thread of its own."""

    def __init__(
        self,
        connect: Callable[[], StorageBackend],
        *,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._connect = connect
        self._clock_ns = clock_ns
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="merkle-store")
        self._backend: StorageBackend | None = None
        self._api: ContextApi | None = None

    @property
    def backend(self) -> StorageBackend:
        """The connection (only for functions running on the store's thread)."""
        assert self._backend is not None, "open the store first"
        return self._backend

    @property
    def api(self) -> ContextApi:
        """The write boundary over the connection (on the store's thread only)."""
        assert self._api is not None, "open the store first"
        return self._api

    @property
    def is_open(self) -> bool:
        """Whether the connection is open."""
        return self._backend is not None

    def swap_executor(self, executor: ThreadPoolExecutor) -> None:
        """Run the store's calls on `executor` (one thread) instead; before `open`.

        For a profiler, which sees only the thread it was started in.
        """
        self._executor.shutdown(wait=False)
        self._executor = executor

    async def open(self) -> None:
        """Open the connection, on the store's thread."""
        await self.call(self._open)

    def _open(self) -> None:
        self._backend = self._connect()
        self._api = ContextApi(self._backend, clock_ns=self._clock_ns)

    async def call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args, **kwargs)` on the store's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))

    async def close(self) -> None:
        """Close the connection and stop the thread; idempotent."""
        if self._backend is not None:
            await self.call(self._backend.close)
            self._backend = None
            self._api = None
        self._executor.shutdown(wait=True)
