"""Waiting for a request's outcome, wherever it is produced.

A request this process runs is resolved in process, by the worker, the moment
its outcome is stored. A request another process runs is noticed through the
store: `Completion.watch` is the loop that does it. `PolledCompletion` polls
the outcomes of the awaited requests; an engine that can push a notice
(PostgreSQL's LISTEN/NOTIFY) puts its own `Completion` behind the same
interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Protocol

from merkle.context.queue.offload import OffloadedStore
from merkle.store import StoredRequest


class Completion(Protocol):
    """The waiters of this process, resolved in process or through the store."""

    async def wait(self, request_id: int) -> StoredRequest:
        """The request's final row, once it is no longer live."""
        ...

    def resolve(self, outcome: StoredRequest) -> None:
        """Hand `outcome` to everyone waiting on its request."""
        ...

    async def watch(self) -> None:
        """Notice outcomes produced by other processes, until cancelled."""
        ...

    def cancel_all(self) -> None:
        """Cancel every wait (the process stops)."""
        ...


class PolledCompletion:
    """In-process futures, and a poll of the store for the requests run elsewhere."""

    def __init__(
        self,
        store: OffloadedStore,
        *,
        poll_s: float,
        running_here: Callable[[], Collection[int]],
    ) -> None:
        self._store = store
        self._poll_s = poll_s
        self._running_here = running_here
        self._futures: dict[int, list[asyncio.Future[StoredRequest]]] = {}

    async def wait(self, request_id: int) -> StoredRequest:
        """The request's final row, once it is no longer live."""
        future: asyncio.Future[StoredRequest] = asyncio.get_running_loop().create_future()
        self._futures.setdefault(request_id, []).append(future)
        return await future

    def resolve(self, outcome: StoredRequest) -> None:
        """Hand `outcome` to everyone waiting on its request."""
        for future in self._futures.pop(outcome.request_id, []):
            if not future.done():
                future.set_result(outcome)

    async def watch(self) -> None:
        """Poll the outcomes of awaited requests that this process does not run."""
        while True:
            running = self._running_here()
            elsewhere = [rid for rid in self._futures if rid not in running]
            if elsewhere:
                outcomes = await self._store.call(self._store.backend.queue.outcomes, elsewhere)
                for outcome in outcomes.values():
                    self.resolve(outcome)
            await asyncio.sleep(self._poll_s)

    def cancel_all(self) -> None:
        """Cancel every wait."""
        for futures in self._futures.values():
            for future in futures:
                if not future.done():
                    future.cancel()
        self._futures.clear()
