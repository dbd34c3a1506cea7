"""FrameGenerationQueue: the only path to providers, durable and shared by processes.

The queue owns the lifecycle of frame requests and nothing else: accept,
deduplicate, schedule (priority, active plan first, per-agent limits),
retry, complete. It calls the generation units through one contract
(`FrameGenerator.generate`) and writes through `ContextApi.put_frame`; it
holds no prompt, provider or metadata logic.

Its state lives in the store (`QueueStore`), so every `merkle` process on a
workspace shares one queue: a request for a key that is pending or
processing anywhere joins that work, and a process that dies leaves leases
that expire and are taken over. Waiters in this process are woken directly;
waiters on work done elsewhere notice through a cheap poll of the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

from merkle.agents import AgentProfile
from merkle.context.api import ContextApi, FrameDraft
from merkle.context.queue.policy import RetrySettings, decide_retry, min_interval_s
from merkle.context.queue.request import FrameRequest, Priority
from merkle.errors import UsageError, WorkFailed
from merkle.store import Database
from merkle.store.owners import new_owner_id, owner_is_dead
from merkle.store.queue import (
    AgentLimits,
    NewRequest,
    QueueFullError,
    QueueStore,
    RequestState,
    StoreBusy,
    StoredRequest,
)
from merkle.telemetry.sink import EventSink, NullSink

P = ParamSpec("P")
# A claimed request, and the frame that already settles it (if any).
Claimed = tuple[StoredRequest, str | None]
# How often an idle dispatcher looks for leases held by processes that died.
_REAP_INTERVAL_S = 1.0
T = TypeVar("T")


class FrameGenerator(Protocol):
    """The generation units' one contract, as the queue worker calls it."""

    async def generate(self, request: FrameRequest, *, attempt: int) -> FrameDraft:
        """A frame draft for `request`, or an error with `retryable` and `error_class`."""
        ...


class QueueFull(UsageError):
    """The queue holds as many live requests as it may: nothing was dropped."""


class RequestFailed(WorkFailed):
    """A request's final failure, whichever attempt produced it."""

    def __init__(self, error_class: str, message: str, *, attempts: int) -> None:
        super().__init__(message, hint=None)
        self.error_class = error_class
        self.attempts = attempts


class RequestCancelled(WorkFailed):
    """The request was cancelled before it finished (its waiters went away)."""


class EnqueueStatus(Enum):
    """What `enqueue` did with a request."""

    ENQUEUED = "enqueued"
    DEDUPLICATED = "deduplicated"  # joined live work for the same key
    HEAD_EXISTS = "head_exists"  # the key has a frame already: no work


@dataclass(frozen=True, slots=True, kw_only=True)
class EnqueueResult:
    """The request id (None when a head answered at once), what happened, and the frame
    id when it is already known."""

    request_id: int | None
    status: EnqueueStatus
    frame_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSettings:
    """Sizes and timings of the queue."""

    max_live: int = 10_000
    lease_s: float = 30.0
    heartbeat_s: float = 10.0
    stats_s: float = 1.0  # how often a `queue_stats` event reports the counts
    poll_s: float = 0.05
    workers: int = 32
    retry: RetrySettings = field(default_factory=RetrySettings)
    default_limits: AgentLimits = field(default_factory=lambda: AgentLimits(max_concurrent=4))


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    """Requests by state, and the deduplicated and retried counts, in all and by
    priority and by agent."""

    pending: int
    processing: int
    completed: int
    failed: int
    cancelled: int
    deduplicated: int
    retried: int
    by_priority: dict[str, dict[str, int]]
    by_agent: dict[str, dict[str, int]]


def agent_limits(agents: Iterable[AgentProfile]) -> dict[str, AgentLimits]:
    """Each agent's concurrency and start-interval limits, as the queue enforces them."""
    return {
        agent.agent_id: AgentLimits(
            max_concurrent=agent.max_concurrent,
            min_interval_ns=int(
                min_interval_s(
                    requests_per_minute=agent.requests_per_minute,
                    min_interval_s=agent.min_interval_s,
                )
                * 1e9
            ),
        )
        for agent in agents
    }


def _error_fields(error: BaseException) -> tuple[str, str, bool, float | None]:
    """The class, message, retryability and Retry-After of any generation failure."""
    error_class = getattr(error, "error_class", None)
    name = getattr(error_class, "value", error_class) or type(error).__name__
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    retryable = bool(getattr(error, "retryable", False))
    return str(name), str(message), retryable, getattr(error, "retry_after_s", None)


class FrameGenerationQueue:
    """The durable, multi-process queue of frame requests (one per process)."""

    def __init__(
        self,
        database_path: Path,
        generator: FrameGenerator,
        *,
        limits: Mapping[str, AgentLimits] | None = None,
        settings: QueueSettings | None = None,
        sink: EventSink | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
    ) -> None:
        self._path = database_path
        self._generator = generator
        self._limits = dict(limits or {})
        self.settings = settings or QueueSettings()
        self._sink = sink or NullSink()
        # What this process's calls came to, for `queue_stats`.
        self._tally: Counter[str] = Counter(completed=0, failed=0, retried=0)
        self._clock_ns = clock_ns
        self._rng = rng or random.Random()
        self.owner = new_owner_id()
        # One thread owns the connection: store calls never block the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="merkle-queue")
        self._database: Database | None = None
        self._store: QueueStore | None = None
        self._stopped = False
        self._api: ContextApi | None = None
        self._waiters: dict[int, list[asyncio.Future[StoredRequest]]] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._running = False

    # -- the store, on its own thread -----------------------------------------------

    async def _db(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))

    def _open(self) -> None:
        self._database = Database.open(self._path)
        self._store = QueueStore(self._database)
        self._api = ContextApi(self._database, clock_ns=self._clock_ns)

    @property
    def store(self) -> QueueStore:
        """The queue's store (only for calls made on the queue's thread)."""
        assert self._store is not None, "start the queue first"
        return self._store

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start the workers of this process."""
        await self._db(self._open)
        self._running = True
        loop = asyncio.get_running_loop()
        for work in (self._dispatch(), self._heartbeat(), self._poll()):
            self._tasks.append(loop.create_task(work))
        if not isinstance(self._sink, NullSink):
            self._tasks.append(loop.create_task(self._report_stats()))

    async def stop(self, *, interrupted: bool = False) -> None:
        """Stop the workers; idempotent.

        Without `interrupted`, no new request is claimed and the calls already
        sent are waited for: they are paid for, and their frames are stored
        (another process's plan may be waiting on them). With `interrupted`
        (Ctrl-C), they are cancelled, this process's pending work that no other
        waiter needs is cancelled and the rest is handed back; the store stays whole.
        """
        if self._store is None or self._stopped:
            return
        self._stopped = True
        self._running = False
        self._wake.set()
        if not interrupted:
            await self._drain()
        for task in [*self._tasks, *self._in_flight.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._in_flight.values(), return_exceptions=True)
        self._tasks.clear()
        if self._store is not None:
            cancelled = await self._db(
                self.store.abandon, owner=self.owner, now_ns=self._clock_ns()
            )
            if interrupted:
                for request_id in cancelled:
                    self._sink.emit("request_cancelled", {"request_id": request_id})
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.cancel()
        self._waiters.clear()
        if self._database is not None:
            await self._db(self._database.close)
            self._database = None
        self._executor.shutdown(wait=True)

    async def _drain(self) -> None:
        """Wait for the calls in flight (a finishing slot claims nothing more)."""
        for _ in range(self.settings.workers + 1):
            running = [task for task in self._in_flight.values() if not task.done()]
            if not running:
                return
            await asyncio.wait(running)

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
        """Submit `request`; returns at once. A key with a head (unless `force`) is
        answered by the head; a key with live work joins it."""
        try:
            head, stored, joined = await self._db(self._enqueue_now, request, wait=wait)
        except QueueFullError as full:
            raise QueueFull(
                f"the queue is full ({full.args[0]:,} requests pending or processing);"
                f" {request.path} was not added",
                hint="wait for the running work to finish, then try again",
            ) from None
        if stored is None:
            return EnqueueResult(request_id=None, status=EnqueueStatus.HEAD_EXISTS, frame_id=head)
        status = EnqueueStatus.DEDUPLICATED if joined else EnqueueStatus.ENQUEUED
        self._sink.emit(
            "request_deduplicated" if joined else "request_enqueued",
            {"request_id": stored.request_id, "path": request.path, "agent_id": request.agent_id,
             "frame_type": request.frame_type, "priority": request.priority.name.lower(),
             "plan_id": request.plan_id},
        )  # fmt: skip
        self._wake.set()
        return EnqueueResult(request_id=stored.request_id, status=status)

    def _enqueue_now(
        self, request: FrameRequest, *, wait: bool
    ) -> tuple[str | None, StoredRequest | None, bool]:
        """On the store's thread: the head short-circuit, or the stored or joined request."""
        head = self._head_id(request)
        if head is not None and not request.force:
            return head, None, False
        new = NewRequest(
            node_id=request.node_id,
            path=request.path,
            node_type=request.node_type,
            agent_id=request.agent_id,
            frame_type=request.frame_type,
            provider_name=request.provider_name,
            priority=int(request.priority),
            plan_id=request.plan_id,
            force=request.force,
            # A forced request must replace this head, whatever the clock says.
            superseded_frame_id=head if request.force else None,
        )
        stored, joined = self.store.enqueue(
            new,
            owner=self.owner,
            now_ns=self._clock_ns(),
            max_live=self.settings.max_live,
            wait=wait,
        )
        return head, stored, joined

    async def enqueue_and_wait(self, request: FrameRequest) -> str:
        """Submit `request` and wait for its final result: the frame id, or the final
        classified error (`RequestFailed`), whichever attempt produced it."""
        result = await self.enqueue(request, wait=True)
        if result.request_id is None:
            assert result.frame_id is not None
            return result.frame_id
        outcome = await self._outcome(result.request_id)
        if outcome.state is RequestState.DONE and outcome.frame_id is not None:
            return outcome.frame_id
        if outcome.state is RequestState.CANCELLED:
            raise RequestCancelled(f"{request.path}: the request was cancelled")
        raise RequestFailed(
            outcome.error_class or "unknown",
            f"{request.path}: {outcome.error_message or 'failed'}",
            attempts=outcome.attempts,
        )

    async def enqueue_batch(self, requests: Iterable[FrameRequest]) -> list[EnqueueResult]:
        """Submit several requests; each result as `enqueue` gives it."""
        return [await self.enqueue(request) for request in requests]

    async def stats(self) -> QueueStats:
        """Aggregate counts over every request the store holds."""
        rows = await self._db(self.store.counts)
        totals: dict[str, int] = {}
        by_priority: dict[str, dict[str, int]] = {}
        by_agent: dict[str, dict[str, int]] = {}
        deduplicated = retried = 0
        for state, agent, priority, count, joined, extra in rows:
            totals[state] = totals.get(state, 0) + count
            name = Priority(priority).name.lower()
            by_priority.setdefault(name, {}).setdefault(state, 0)
            by_priority[name][state] += count
            by_agent.setdefault(agent, {}).setdefault(state, 0)
            by_agent[agent][state] += count
            deduplicated += joined
            retried += extra
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
        while await self._db(self.store.live_count):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the queue did not drain within {timeout_s} s")
            await asyncio.sleep(self.settings.poll_s)

    async def open_plan(self, plan_id: str) -> None:
        """Register an orchestrator plan: the oldest open plan runs before other work."""
        lease_ns = int(self.settings.lease_s * 1e9)
        await self._db(
            self.store.open_plan,
            plan_id,
            owner=self.owner,
            now_ns=self._clock_ns(),
            lease_ns=lease_ns,
        )
        self._wake.set()

    async def close_plan(self, plan_id: str) -> None:
        """The plan is done: the next plan, then direct work, may run."""
        await self._db(self.store.close_plan, plan_id)
        self._wake.set()

    # -- waiting -------------------------------------------------------------------------

    def _head_id(self, request: FrameRequest) -> str | None:
        assert self._api is not None
        frame = self._api.head(request.node_id, request.agent_id, request.frame_type)
        return None if frame is None else frame.frame_id

    async def _outcome(self, request_id: int) -> StoredRequest:
        future: asyncio.Future[StoredRequest] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(request_id, []).append(future)
        self._wake.set()
        return await future

    def _resolve(self, outcome: StoredRequest) -> None:
        for future in self._waiters.pop(outcome.request_id, []):
            if not future.done():
                future.set_result(outcome)

    async def _poll(self) -> None:
        """Notice requests finished by other processes."""
        while self._running:
            remote = [rid for rid in self._waiters if rid not in self._in_flight]
            if remote:
                for outcome in (await self._db(self.store.outcomes, remote)).values():
                    self._resolve(outcome)
            await asyncio.sleep(self.settings.poll_s)

    # -- working -------------------------------------------------------------------------

    def _reap(self) -> None:
        for owner in self.store.owners():
            if owner_is_dead(owner):
                self.store.expire(owner)

    async def _dispatch(self) -> None:
        """Claim runnable requests while this process has room, and run each in a task."""
        lease_ns = int(self.settings.lease_s * 1e9)
        await self._db(self._reap)
        reaped_at = time.monotonic()
        while self._running:
            claimed = None
            if len(self._in_flight) < self.settings.workers:
                try:
                    claimed = await self._db(
                        self._claim_now,
                        owner=self.owner,
                        now_ns=self._clock_ns(),
                        lease_ns=lease_ns,
                        limits=self._limits,
                        default_limits=self.settings.default_limits,
                    )
                except StoreBusy as error:
                    # A store busy past its timeout: say so and try again, the
                    # waiters are still owed their results.
                    self._sink.emit("queue_error", {"message": error.message})
            if claimed is not None:
                task = asyncio.get_running_loop().create_task(self._process(*claimed))
                self._in_flight[claimed[0].request_id] = task
                continue
            if time.monotonic() - reaped_at > _REAP_INTERVAL_S:
                await self._db(self._reap)
                reaped_at = time.monotonic()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_s)

    async def _report_stats(self) -> None:
        """Emit the queue's counts now and then, for a monitor: the live requests of
        every process (an index read, whatever the history), and what this one did."""
        while self._running:
            live = await self._db(self.store.live_counts)
            self._sink.emit("queue_stats", {**live, **self._tally})
            await asyncio.sleep(self.settings.stats_s)

    async def _heartbeat(self) -> None:
        """Renew the leases of the requests and plans this process holds."""
        lease_ns = int(self.settings.lease_s * 1e9)
        while self._running:
            await asyncio.sleep(self.settings.heartbeat_s)
            until = self._clock_ns() + lease_ns
            await self._db(
                self.store.renew,
                owner=self.owner,
                request_ids=list(self._in_flight),
                until_ns=until,
            )
            await self._db(self.store.renew_plans, owner=self.owner, until_ns=until)

    def _claim_now(
        self,
        *,
        owner: str,
        now_ns: int,
        lease_ns: int,
        limits: Mapping[str, AgentLimits],
        default_limits: AgentLimits,
    ) -> Claimed | None:
        """On the store's thread: claim the next request, with the frame that already
        settles it, if any (one trip to the store instead of two)."""
        claimed = self.store.claim(
            owner=owner,
            now_ns=now_ns,
            lease_ns=lease_ns,
            limits=limits,
            default_limits=default_limits,
        )
        return None if claimed is None else (claimed, self._fresh_head(claimed))

    async def _process(self, claimed: StoredRequest, existing: str | None) -> None:
        """Run a claimed request; after a success, go on with the next one this slot
        claimed in the same trip to the store (a freed slot is refilled at once)."""
        current: Claimed | None = (claimed, existing)
        task = asyncio.current_task()
        while current is not None:
            claimed, existing = current
            current = None
            try:
                outcome, current = await self._run(claimed, existing)
            finally:
                self._in_flight.pop(claimed.request_id, None)
                if current is not None and task is not None:
                    self._in_flight[current[0].request_id] = task
                else:
                    self._wake.set()
            if outcome is not None:
                self._resolve(outcome)

    async def _run(
        self, claimed: StoredRequest, existing: str | None
    ) -> tuple[StoredRequest | None, Claimed | None]:
        request = FrameRequest(
            node_id=claimed.node_id,
            path=claimed.path,
            node_type=claimed.node_type,
            agent_id=claimed.agent_id,
            provider_name=claimed.provider_name,
            frame_type=claimed.frame_type,
            priority=Priority(claimed.priority),
            plan_id=claimed.plan_id,
            force=claimed.force,
        )
        info: dict[str, Any] = {
            "request_id": claimed.request_id,
            "path": claimed.path,
            "agent_id": claimed.agent_id,
            "provider": claimed.provider_name,
            "attempt": claimed.attempts,
        }
        self._sink.emit("request_processing", info)
        # A frame written for this request already (by a process that died before
        # recording it) settles it without another provider call.
        if existing is not None:
            return await self._finish(claimed, RequestState.DONE, frame_id=existing), None
        self._sink.emit("provider_request_sent", info)
        started = time.monotonic()
        try:
            draft = await self._generator.generate(request, attempt=claimed.attempts)
            latency_ms = round((time.monotonic() - started) * 1000)
            # Shielded: once the frame exists, an interrupt must not lose its record.
            outcome, following = await asyncio.shield(self._db(self._complete_now, claimed, draft))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # every failure is classified, none escapes the worker
            return await self._failed(claimed, error, info), None
        self._sink.emit("provider_response_received", {**info, "latency_ms": latency_ms})
        self._tally["completed"] += 1
        return outcome, following

    def _complete_now(
        self, claimed: StoredRequest, draft: FrameDraft
    ) -> tuple[StoredRequest | None, Claimed | None]:
        """On the store's thread: write the frame through the boundary, record it, and
        claim this slot's next request."""
        assert self._api is not None
        put = self._api.put_frame(draft)
        outcome = self._finish_now(claimed, RequestState.DONE, frame_id=put.frame_id)
        if not self._running:
            return outcome, None
        following = self._claim_now(
            owner=self.owner,
            now_ns=self._clock_ns(),
            lease_ns=int(self.settings.lease_s * 1e9),
            limits=self._limits,
            default_limits=self.settings.default_limits,
        )
        return outcome, following

    def _fresh_head(self, claimed: StoredRequest) -> str | None:
        assert self._api is not None
        frame = self._api.head(claimed.node_id, claimed.agent_id, claimed.frame_type)
        if frame is None:
            return None
        if claimed.force and frame.frame_id == claimed.superseded_frame_id:
            return None
        return frame.frame_id

    async def _failed(
        self, claimed: StoredRequest, error: BaseException, info: dict[str, Any]
    ) -> StoredRequest | None:
        error_class, message, retryable, retry_after_s = _error_fields(error)
        decision = decide_retry(
            attempt=claimed.attempts,
            retryable=retryable,
            retry_after_s=retry_after_s,
            settings=self.settings.retry,
            rng=self._rng,
        )
        details = {**info, "error_class": error_class, "message": message, "retryable": retryable}
        if decision.retry:
            self._sink.emit(
                "provider_request_retrying", {**details, "delay_s": round(decision.delay_s, 3)}
            )
            self._tally["retried"] += 1
            due = self._clock_ns() + int(decision.delay_s * 1e9)
            await self._db(
                self.store.retry_later,
                claimed.request_id,
                owner=self.owner,
                due_ns=due,
                error_class=error_class,
                error_message=message,
            )
            return None
        self._sink.emit("provider_request_failed", {**details, "reason": decision.reason})
        self._tally["failed"] += 1
        return await self._finish(
            claimed, RequestState.FAILED, error_class=error_class, error_message=message
        )

    async def _finish(
        self,
        claimed: StoredRequest,
        state: RequestState,
        *,
        frame_id: str | None = None,
        error_class: str | None = None,
        error_message: str | None = None,
    ) -> StoredRequest | None:
        # Shielded: once the outcome is known, an interrupt must not lose it.
        return await asyncio.shield(
            self._db(
                self._finish_now,
                claimed,
                state,
                frame_id=frame_id,
                error_class=error_class,
                error_message=error_message,
            )
        )

    def _finish_now(
        self,
        claimed: StoredRequest,
        state: RequestState,
        *,
        frame_id: str | None = None,
        error_class: str | None = None,
        error_message: str | None = None,
    ) -> StoredRequest | None:
        held = self.store.finish(
            claimed.request_id,
            owner=self.owner,
            now_ns=self._clock_ns(),
            state=state,
            frame_id=frame_id,
            error_class=error_class,
            error_message=error_message,
        )
        if not held:
            return None  # the lease was lost: the process that took over reports it
        return self.store.get(claimed.request_id)
