"""The queue's worker: the only loop that runs requests.

It claims runnable requests while this process has room (per-agent limits
are decided by `blocked_agents` over one read of the store, inside the
claim's transaction), runs each through the generation units' contract,
writes the draft through `ContextApi.put_frame`, and records the outcome:
done, failed for good, or back to pending for a retry the retry policy
decided. It renews the leases it holds, reaps those of processes that
died, and reports the queue's counts. An idle worker claims nothing until
something changed: a local submission, a request that came due, or a
commit of another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from merkle.context.api import FrameDraft
from merkle.context.queue.contract import FrameGenerator, FrameRequest, QueueSettings
from merkle.context.queue.offload import OffloadedStore
from merkle.context.queue.policy import RATE_LIMITED, AgentLimits, blocked_agents, decide_retry
from merkle.context.queue.waiters import Completion
from merkle.errors import GenerationFailure, StoreBusy, StoreError, failure_of
from merkle.store import RequestState, StoredRequest
from merkle.store.owners import owner_is_dead
from merkle.telemetry.sink import EventSink

# A claimed request, and the frame that already settles it (if any).
Claimed = tuple[StoredRequest, str | None]
# How often an idle worker looks for leases held by processes that died.
_REAP_INTERVAL_S = 1.0
# How often a frame that could not be stored (a busy store) is tried again.
_STORE_ATTEMPTS = 3


class QueueWorker:
    """Runs the requests this process claims (one worker per process)."""

    def __init__(
        self,
        store: OffloadedStore,
        generator: FrameGenerator,
        completion: Completion,
        *,
        owner: str,
        settings: QueueSettings,
        limits: Mapping[str, AgentLimits],
        sink: EventSink,
        clock_ns: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._generator = generator
        self._completion = completion
        self._owner = owner
        self._settings = settings
        self._limits = dict(limits)
        self._sink = sink
        self._clock_ns = clock_ns
        self._rng = rng or random.Random()
        self._lease_ns = int(settings.lease_s * 1e9)
        # What this process's calls came to, for `queue_stats`.
        self._tally: Counter[str] = Counter(completed=0, failed=0, retried=0)
        self.in_flight: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._claiming = False

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, *, report_stats: bool) -> list[asyncio.Task[None]]:
        """Start the loops: dispatch, heartbeat and, if asked, the stats report."""
        self._claiming = True
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._dispatch()), loop.create_task(self._heartbeat())]
        if report_stats:
            tasks.append(loop.create_task(self._report_stats()))
        return tasks

    def wake(self) -> None:
        """Look for work now (a submission, a plan that opened or closed)."""
        self._wake.set()

    def stop_claiming(self) -> None:
        """Claim nothing more; the calls in flight go on."""
        self._claiming = False
        self._wake.set()

    async def drain(self) -> None:
        """Wait for the calls in flight (a finishing slot claims nothing more)."""
        for _ in range(self._settings.workers + 1):
            running = [task for task in self.in_flight.values() if not task.done()]
            if not running:
                return
            await asyncio.wait(running)

    # -- claiming ----------------------------------------------------------------------

    async def _dispatch(self) -> None:
        """Claim runnable requests while this process has room, and run each in a task."""
        await self._reap()
        reaped_at = time.monotonic()
        while self._claiming:
            claimed = None
            if len(self.in_flight) < self._settings.workers:
                try:
                    claimed = await self._store.call(self._claim)
                except StoreError as error:
                    # A store busy past its timeout: say so and try again, the
                    # waiters are still owed their results.
                    self._sink.emit("queue_error", {"message": error.message})
            if claimed is not None:
                task = asyncio.get_running_loop().create_task(self._process(*claimed))
                self.in_flight[claimed[0].request_id] = task
                continue
            if time.monotonic() - reaped_at > _REAP_INTERVAL_S:
                await self._reap()
                reaped_at = time.monotonic()
            await self._idle()

    def _claim(self) -> Claimed | None:
        """On the store's thread: claim the next request this process may run, with the
        frame that already settles it, if any (one trip to the store instead of two)."""
        backend = self._store.backend
        now_ns = self._clock_ns()
        # Looked for first: a worker with nothing to claim takes no write lock, which
        # another process may be holding.
        paused = backend.queue.paused_providers(now_ns)
        if not backend.queue.has_runnable(now_ns, excluded_providers=paused):
            return None
        with backend.transaction():
            blocked = blocked_agents(
                backend.queue.agent_load(now_ns),
                limits=self._limits,
                default=self._settings.default_limits,
                now_ns=now_ns,
            )
            claimed = backend.queue.claim(
                owner=self._owner,
                now_ns=now_ns,
                lease_ns=self._lease_ns,
                excluded_agents=blocked,
                excluded_providers=paused,
            )
        return None if claimed is None else (claimed, self._settled_by(claimed))

    def _settled_by(self, claimed: StoredRequest) -> str | None:
        """The frame written for this request already (by a process that died before
        recording it), which settles it without another provider call."""
        head = self._store.backend.frames.head(claimed.key)
        if head is None:
            return None
        if claimed.force and head.frame_id == claimed.superseded_frame_id:
            return None
        return head.frame_id

    async def _idle(self) -> None:
        """Wait until claiming may find work: a wake, a due time, another process's
        commit, or `idle_claim_s` at the most. Only reads the store meanwhile."""
        self._wake.clear()
        if len(self.in_flight) >= self._settings.workers:
            # Every slot is taken: only a call of this process that ends frees one.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.poll_s)
            return
        try:
            marker, due_ns = await self._store.call(self._idle_state)
        except StoreError:
            marker, due_ns = None, None
        give_up = time.monotonic() + self._settings.idle_claim_s
        while self._claiming and time.monotonic() < give_up:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.poll_s)
                return
            if marker is None or (due_ns is not None and self._clock_ns() >= due_ns):
                return
            with contextlib.suppress(StoreError):
                if await self._store.call(self._store.backend.change_marker) != marker:
                    return

    def _idle_state(self) -> tuple[int, int | None]:
        backend = self._store.backend
        return backend.change_marker(), backend.queue.next_due_ns(self._clock_ns())

    async def _reap(self) -> None:
        with contextlib.suppress(StoreError):
            await self._store.call(self._reap_dead)

    def _reap_dead(self) -> None:
        queue = self._store.backend.queue
        for owner in queue.owners():
            if owner_is_dead(owner):
                queue.expire(owner)

    async def _heartbeat(self) -> None:
        """Renew the leases of the requests and plans this process holds."""
        queue = self._store.backend.queue
        while True:
            await asyncio.sleep(self._settings.heartbeat_s)
            until = self._clock_ns() + self._lease_ns
            try:
                await self._store.call(
                    queue.renew, owner=self._owner, request_ids=list(self.in_flight), until_ns=until
                )
                await self._store.call(queue.renew_plans, owner=self._owner, until_ns=until)
            except StoreError as error:  # the next beat tries again
                self._sink.emit("queue_error", {"message": error.message})

    async def _report_stats(self) -> None:
        """Emit the queue's counts now and then, for a monitor: the live requests of
        every process (an index read, whatever the history), and what this one did."""
        while True:
            with contextlib.suppress(StoreError):
                live = await self._store.call(self._store.backend.queue.live_counts)
                self._sink.emit("queue_stats", {**live, **self._tally})
            await asyncio.sleep(self._settings.stats_s)

    # -- running -------------------------------------------------------------------------

    async def _process(self, claimed: StoredRequest, existing: str | None) -> None:
        """Run a claimed request; after a success, go on with the next one this slot
        claimed in the same trip to the store (a freed slot is refilled at once)."""
        current: Claimed | None = (claimed, existing)
        task = asyncio.current_task()
        while current is not None:
            claimed, existing = current
            current = None
            looked = False
            try:
                outcome, current, looked = await self._run(claimed, existing)
            finally:
                self.in_flight.pop(claimed.request_id, None)
                if current is not None and task is not None:
                    self.in_flight[current[0].request_id] = task
                elif not looked:
                    # The freed slot did not look for work itself: the dispatcher does.
                    self._wake.set()
            if outcome is not None:
                self._completion.resolve(outcome)

    async def _run(
        self, claimed: StoredRequest, existing: str | None
    ) -> tuple[StoredRequest | None, Claimed | None, bool]:
        """Run one request: its outcome, the slot's next request if it claimed one, and
        whether it looked for one (in the same trip as the outcome's)."""
        info: dict[str, Any] = {
            "request_id": claimed.request_id,
            "path": claimed.path,
            "agent_id": claimed.key.agent_id,
            "provider": claimed.provider_name,
            "attempt": claimed.attempts,
        }
        self._sink.emit("request_processing", info)
        if existing is not None:
            return await self._record(claimed, RequestState.DONE, frame_id=existing), None, False
        try:
            draft = await self._generator.generate(
                FrameRequest.from_stored(claimed),
                attempt=claimed.attempts,
                request_id=claimed.request_id,
            )
            outcome, following, looked = await self._store_draft(claimed, draft)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # every failure is classified, none escapes the worker
            return await self._failed(claimed, failure_of(error), info), None, False
        self._tally["completed"] += 1
        return outcome, following, looked

    async def _store_draft(
        self, claimed: StoredRequest, draft: FrameDraft
    ) -> tuple[StoredRequest | None, Claimed | None, bool]:
        """Write the paid-for draft and record it; a busy store is waited out a few
        times rather than calling the provider again."""
        for attempt in range(1, _STORE_ATTEMPTS):
            try:
                # Shielded: once the frame exists, an interrupt must not lose its record.
                return await asyncio.shield(self._store.call(self._complete, claimed, draft))
            except StoreBusy:
                await asyncio.sleep(self._settings.poll_s * 2**attempt)
        return await asyncio.shield(self._store.call(self._complete, claimed, draft))

    def _complete(
        self, claimed: StoredRequest, draft: FrameDraft
    ) -> tuple[StoredRequest | None, Claimed | None, bool]:
        """On the store's thread: write the frame through the boundary, record it, and
        claim this slot's next request (the flag: whether it looked for one)."""
        put = self._store.api.put_frame(draft)
        outcome = self._store.backend.queue.finish(
            claimed.request_id,
            owner=self._owner,
            now_ns=self._clock_ns(),
            state=RequestState.DONE,
            frame_id=put.frame_id,
        )
        if not self._claiming:
            return outcome, None, False
        return outcome, self._claim(), True

    async def _failed(
        self, claimed: StoredRequest, failure: GenerationFailure, info: dict[str, Any]
    ) -> StoredRequest | None:
        first_ns = claimed.first_attempt_at_ns
        decision = decide_retry(
            attempt=claimed.attempts,
            retryable=failure.retryable,
            retry_after_s=failure.retry_after_s,
            elapsed_s=(self._clock_ns() - first_ns) / 1e9 if first_ns is not None else 0.0,
            settings=self._settings.retry,
            rng=self._rng,
        )
        if decision.error_class is not None:
            # A wait longer than allowed is a quota spent: the provider's own words,
            # and why merkle does not wait, are what the user needs.
            failure = dataclasses.replace(
                failure,
                error_class=decision.error_class,
                retryable=False,
                message=f"{failure.message} ({decision.reason})",
            )
        details = {
            **info,
            "error_class": failure.error_class,
            "message": failure.message,
            "retryable": failure.retryable,
        }
        if not decision.retry:
            self._sink.emit("provider_request_failed", {**details, "reason": decision.reason})
            self._tally["failed"] += 1
            return await self._record(claimed, RequestState.FAILED, why=failure)
        self._sink.emit(
            "provider_request_retrying", {**details, "delay_s": round(decision.delay_s, 3)}
        )
        self._tally["retried"] += 1
        try:
            await self._store.call(self._retry_later, claimed, failure, decision.delay_s)
        except StoreError as error:
            return _unrecorded(claimed, error)
        return None

    def _retry_later(
        self, claimed: StoredRequest, failure: GenerationFailure, delay_s: float
    ) -> None:
        """On the store's thread: put the attempt back; a provider that asked for a pause
        (429) gets it from every process sharing the store, not only from this request."""
        queue = self._store.backend.queue
        now_ns = self._clock_ns()
        with self._store.backend.transaction():
            queue.retry_later(
                claimed.request_id,
                owner=self._owner,
                due_ns=now_ns + int(delay_s * 1e9),
                error_class=failure.error_class,
                error_message=failure.message,
            )
            if failure.error_class == RATE_LIMITED:
                pause_s = failure.retry_after_s if failure.retry_after_s is not None else delay_s
                queue.pause_provider(claimed.provider_name, until_ns=now_ns + int(pause_s * 1e9))

    async def _record(
        self,
        claimed: StoredRequest,
        state: RequestState,
        *,
        why: GenerationFailure | None = None,
        frame_id: str | None = None,
    ) -> StoredRequest | None:
        """Store the final outcome; None when the lease was lost (the process that took
        the request over reports it)."""
        try:
            # Shielded: once the outcome is known, an interrupt must not lose it.
            return await asyncio.shield(
                self._store.call(
                    self._store.backend.queue.finish,
                    claimed.request_id,
                    owner=self._owner,
                    now_ns=self._clock_ns(),
                    state=state,
                    frame_id=frame_id,
                    error_class=why.error_class if why else None,
                    error_message=why.message if why else None,
                )
            )
        except StoreError as error:
            return _unrecorded(claimed, error)


def _unrecorded(claimed: StoredRequest, error: StoreError) -> StoredRequest:
    """The outcome this process's waiters get when the store would not take it: a
    failure naming the store. The row keeps its lease and is handed back, or taken
    over once the lease lapses."""
    return dataclasses.replace(
        claimed,
        state=RequestState.FAILED,
        error_class=error.failure_class or "store_error",
        error_message=f"{error.message} ({error.hint})" if error.hint else error.message,
    )
