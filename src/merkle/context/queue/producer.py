"""The producer side of the queue: submit requests, wait for results, plans, stats.

A submission is answered at once by the key's head (unless forced), joins
the key's live request wherever it runs, or stores a new request; a batch is
one transaction, stored all or none.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from merkle.context.queue.contract import (
    EnqueueResult,
    EnqueueStatus,
    FrameRequest,
    Priority,
    QueueSettings,
    QueueStats,
    RequestFailed,
)
from merkle.context.queue.offload import OffloadedStore
from merkle.context.queue.waiters import Completion
from merkle.errors import GenerationFailure, QueueFull, RequestCancelled, StoreError
from merkle.store import Enqueued, NewRequest, RequestState
from merkle.telemetry.sink import EventSink

# What the store thread hands back for one submission: the head that answers it,
# or what storing it did.
_Submitted = tuple[str | None, Enqueued | None]


class QueueProducer:
    """Submits requests to the shared queue and waits for their outcomes."""

    def __init__(
        self,
        store: OffloadedStore,
        completion: Completion,
        *,
        owner: str,
        settings: QueueSettings,
        sink: EventSink,
        wake: Callable[[], None],
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._completion = completion
        self._owner = owner
        self._settings = settings
        self._sink = sink
        self._wake = wake
        self._clock_ns = clock_ns

    async def enqueue(self, request: FrameRequest, *, wait: bool = False) -> EnqueueResult:
        """Submit `request`; returns at once. A key with a head (unless `force`) is
        answered by the head; a key with live work joins it."""
        (result,) = await self.enqueue_batch([request], wait=wait)
        return result

    async def enqueue_batch(
        self, requests: Sequence[FrameRequest], *, wait: bool = False
    ) -> list[EnqueueResult]:
        """Submit `requests` in one transaction, each answered as `enqueue` answers it.

        Raises `QueueFull` when the new requests do not all fit: then none is stored.
        """
        if not requests:
            return []
        try:
            submitted = await self._store.call(self._submit, list(requests), wait)
        except QueueFull as full:
            first = requests[0].path if len(requests) == 1 else f"{len(requests)} requests"
            raise QueueFull(
                f"{full.message}; {first} {'was' if len(requests) == 1 else 'were'} not added",
                live=full.live,
                hint=full.hint,
            ) from None
        results = [self._result(r, s) for r, s in zip(requests, submitted, strict=True)]
        self._wake()
        return results

    def _submit(self, requests: list[FrameRequest], wait: bool) -> list[_Submitted]:
        """On the store's thread: the head short-circuits, then one write for the rest."""
        backend = self._store.backend
        with backend.transaction():
            heads = [backend.frames.head(request.key) for request in requests]
            # A key with a head is answered by it, unless the request forces a new frame.
            answered = [
                head.frame_id if head is not None and not request.force else None
                for request, head in zip(requests, heads, strict=True)
            ]
            new = [
                NewRequest(
                    key=request.key,
                    path=request.path,
                    node_type=request.node_type,
                    provider_name=request.provider_name,
                    priority=int(request.priority),
                    plan_id=request.plan_id,
                    force=request.force,
                    # A forced request must replace this head, whatever the clock says.
                    superseded_frame_id=head.frame_id if head is not None else None,
                )
                for request, head, frame_id in zip(requests, heads, answered, strict=True)
                if frame_id is None
            ]
            stored = iter(
                backend.queue.enqueue(
                    new,
                    owner=self._owner,
                    now_ns=self._clock_ns(),
                    max_live=self._settings.max_live,
                    wait=wait,
                )
            )
        return [(frame_id, None if frame_id else next(stored)) for frame_id in answered]

    def _result(self, request: FrameRequest, submitted: _Submitted) -> EnqueueResult:
        head, enqueued = submitted
        if enqueued is None:
            return EnqueueResult(request_id=None, status=EnqueueStatus.HEAD_EXISTS, frame_id=head)
        stored = enqueued.request
        self._sink.emit(
            "request_deduplicated" if enqueued.joined else "request_enqueued",
            {"request_id": stored.request_id, "path": request.path, "agent_id": request.agent_id,
             "frame_type": request.frame_type, "priority": request.priority.name.lower(),
             "plan_id": request.plan_id},
        )  # fmt: skip
        status = EnqueueStatus.DEDUPLICATED if enqueued.joined else EnqueueStatus.ENQUEUED
        return EnqueueResult(request_id=stored.request_id, status=status)

    async def result(self, request: FrameRequest, submitted: EnqueueResult) -> str:
        """The frame id a submission ends with, or its final classified error
        (`RequestFailed`, `RequestCancelled`), whichever attempt produced it."""
        if submitted.request_id is None:
            assert submitted.frame_id is not None
            return submitted.frame_id
        outcome = await self._completion.wait(submitted.request_id)
        if outcome.state is RequestState.DONE and outcome.frame_id is not None:
            return outcome.frame_id
        if outcome.state is RequestState.CANCELLED:
            raise RequestCancelled(f"{request.path}: the request was cancelled")
        failure = GenerationFailure(
            error_class=outcome.error_class or "unknown",
            message=f"{request.path}: {outcome.error_message or 'failed'}",
        )
        raise RequestFailed(failure, attempts=outcome.attempts)

    async def enqueue_and_wait(self, request: FrameRequest) -> str:
        """Submit `request` and wait for its final result (see `result`)."""
        return await self.result(request, await self.enqueue(request, wait=True))

    async def stats(self) -> QueueStats:
        """Aggregate counts over every request the store holds."""
        rows = await self._store.call(self._store.backend.queue.counts)
        totals: dict[str, int] = {}
        by_priority: dict[str, dict[str, int]] = {}
        by_agent: dict[str, dict[str, int]] = {}
        deduplicated = retried = 0
        for row in rows:
            totals[row.state] = totals.get(row.state, 0) + row.requests
            name = Priority(row.priority).name.lower()
            by_priority.setdefault(name, {}).setdefault(row.state, 0)
            by_priority[name][row.state] += row.requests
            by_agent.setdefault(row.agent_id, {}).setdefault(row.state, 0)
            by_agent[row.agent_id][row.state] += row.requests
            deduplicated += row.joined
            retried += row.retried
        return QueueStats(
            pending=totals.get("pending", 0),
            processing=totals.get("processing", 0),
            completed=totals.get("done", 0),
            failed=totals.get("failed", 0),
            cancelled=totals.get("cancelled", 0),
            deduplicated=deduplicated,
            retried=retried,
            by_priority=by_priority,
            by_agent=by_agent,
        )

    async def wait_for_completion(self, *, timeout_s: float = 600.0) -> None:
        """Return when no request is pending or processing in the store (any process)."""
        deadline = time.monotonic() + timeout_s
        while await self._store.call(self._store.backend.queue.live_count):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the queue did not drain within {timeout_s} s")
            await asyncio.sleep(self._settings.poll_s)

    async def open_plan(self, plan_id: str) -> None:
        """Register an orchestrator plan: the oldest open plan runs before other work."""
        await self._store.call(
            self._store.backend.queue.open_plan,
            plan_id,
            owner=self._owner,
            now_ns=self._clock_ns(),
            lease_ns=int(self._settings.lease_s * 1e9),
        )
        self._wake()

    async def close_plan(self, plan_id: str) -> None:
        """The plan is done: the next plan, then direct work, may run.

        A store too busy to take it is reported, not raised: the plan's lease
        lapses, or is ended by the next process that sees this one gone.
        """
        try:
            await self._store.call(self._store.backend.queue.close_plan, plan_id)
        except StoreError as error:
            self._sink.emit("queue_error", {"message": error.message})
        self._wake()
