"""FrameGenerationQueue: the only path to providers, durable and shared by processes.

The queue owns the lifecycle of frame requests and nothing else: accept,
deduplicate, schedule (priority, active plan first, per-agent limits),
retry, complete. It is three parts over one offloaded store connection: the
producer (`enqueue`, `enqueue_batch`, `enqueue_and_wait`, `stats`, plans),
the worker (the only loop that runs requests, through the generation units'
one contract, writing through `ContextApi.put_frame`), and the waiters
(resolved in process, or noticed through the store when another process ran
the request). It holds no prompt, provider or metadata logic, and takes the
agents' limits as values.

Its state lives in the store, so every `merkle` process on a store shares
one queue: a request for a key that is pending or processing anywhere joins
that work, and a process that dies leaves leases that expire and are taken
over.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence

from merkle.context.queue.contract import (
    EnqueueResult,
    FrameGenerator,
    FrameRequest,
    QueueSettings,
    QueueStats,
)
from merkle.context.queue.offload import OffloadedStore
from merkle.context.queue.policy import AgentLimits
from merkle.context.queue.producer import QueueProducer
from merkle.context.queue.waiters import PolledCompletion
from merkle.context.queue.worker import QueueWorker
from merkle.errors import StoreError
from merkle.store import StorageBackend
from merkle.store.owners import new_owner_id
from merkle.telemetry.sink import EventSink, NullSink


class FrameGenerationQueue:
    """The durable, multi-process queue of frame requests (one per process)."""

    def __init__(
        self,
        connect: Callable[[], StorageBackend],
        generator: FrameGenerator,
        *,
        limits: Mapping[str, AgentLimits] | None = None,
        settings: QueueSettings | None = None,
        sink: EventSink | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or QueueSettings()
        self._sink = sink or NullSink()
        self._clock_ns = clock_ns
        self.owner = new_owner_id()
        self.store = OffloadedStore(connect, clock_ns=clock_ns)
        self._completion = PolledCompletion(
            self.store, poll_s=self.settings.poll_s, running_here=lambda: self._worker.in_flight
        )
        self._worker = QueueWorker(
            self.store,
            generator,
            self._completion,
            owner=self.owner,
            settings=self.settings,
            limits=limits or {},
            sink=self._sink,
            clock_ns=clock_ns,
            rng=rng,
        )
        self._producer = QueueProducer(
            self.store,
            self._completion,
            owner=self.owner,
            settings=self.settings,
            sink=self._sink,
            wake=self._worker.wake,
            clock_ns=clock_ns,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._started = self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start this process's worker and waiters."""
        await self.store.open()
        self._started = True
        self._tasks = self._worker.start(report_stats=not isinstance(self._sink, NullSink))
        self._tasks.append(asyncio.get_running_loop().create_task(self._completion.watch()))

    async def stop(self, *, interrupted: bool = False) -> None:
        """Stop the worker and the waiters; idempotent.

        Without `interrupted`, no new request is claimed and the calls already
        sent are waited for: they are paid for, and their frames are stored
        (another process's plan may be waiting on them). With `interrupted`
        (Ctrl-C), they are cancelled, this process's pending work that no other
        waiter needs is cancelled and the rest is handed back; the store stays whole.
        """
        if not self._started or self._stopped:
            return
        self._stopped = True
        self._worker.stop_claiming()
        if not interrupted:
            await self._worker.drain()
        running = [*self._tasks, *self._worker.in_flight.values()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        self._tasks.clear()
        try:
            cancelled = await self.store.call(
                self.store.backend.queue.abandon, owner=self.owner, now_ns=self._clock_ns()
            )
        except StoreError as error:
            # Left as they are, this process's leases lapse, or are taken over at once
            # by the next process on this host, which sees that this one is gone.
            self._sink.emit("queue_error", {"message": error.message})
            cancelled = []
        finally:
            self._completion.cancel_all()
            await self.store.close()
        if interrupted:
            for request_id in cancelled:
                self._sink.emit("request_cancelled", {"request_id": request_id})

    async def __aenter__(self) -> FrameGenerationQueue:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        interrupted = exc_type is not None and issubclass(
            exc_type, KeyboardInterrupt | asyncio.CancelledError
        )
        await self.stop(interrupted=interrupted)

    # -- the contract --------------------------------------------------------------------

    async def enqueue(self, request: FrameRequest, *, wait: bool = False) -> EnqueueResult:
        """Submit `request`; returns at once (see `QueueProducer.enqueue`)."""
        return await self._producer.enqueue(request, wait=wait)

    async def enqueue_batch(
        self, requests: Sequence[FrameRequest], *, wait: bool = False
    ) -> list[EnqueueResult]:
        """Submit `requests` in one transaction, all or none."""
        return await self._producer.enqueue_batch(requests, wait=wait)

    async def result(self, request: FrameRequest, submitted: EnqueueResult) -> str:
        """The frame id a submission ends with, or its final classified error."""
        return await self._producer.result(request, submitted)

    async def enqueue_and_wait(self, request: FrameRequest) -> str:
        """Submit `request` and wait for its final result: the frame id, or the final
        classified error (`RequestFailed`), whichever attempt produced it."""
        return await self._producer.enqueue_and_wait(request)

    async def stats(self) -> QueueStats:
        """Aggregate counts over every request the store holds."""
        return await self._producer.stats()

    async def wait_for_completion(self, *, timeout_s: float = 600.0) -> None:
        """Return when no request is pending or processing in the store (any process)."""
        await self._producer.wait_for_completion(timeout_s=timeout_s)

    async def open_plan(self, plan_id: str) -> None:
        """Register an orchestrator plan: the oldest open plan runs before other work."""
        await self._producer.open_plan(plan_id)

    async def close_plan(self, plan_id: str) -> None:
        """The plan is done: the next plan, then direct work, may run."""
        await self._producer.close_plan(plan_id)
