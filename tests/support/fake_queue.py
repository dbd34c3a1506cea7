"""A fake of the queue's plan contract (`PlanQueue`) for the orchestrator's unit tests.

Seed 003 asks for "unit tests with mock queue"; `FakeQueue` is that queue. It
keeps to the contract of `FrameGenerationQueue`: `enqueue_batch` takes a
level's requests (raising `batch_error`, when a test sets one, as the real
queue raises `QueueFull` for a batch that does not fit), `result` answers
each with a frame id or raises what the real queue raises (`RequestFailed`,
`QueueFull`), and `open_plan` / `close_plan` bracket a plan. Outcomes are
scripted per path; everything else is real asyncio waiting:

- `hold(...)` keeps calls waiting on an `asyncio.Event` until the test sets it;
- `hold_together(...)` keeps calls waiting until every named path has a call
  in flight at the same moment (the fake sets the event itself), so an
  orchestrator that submits one item after the other times out instead of
  hanging;
- `wait_until(...)` lets a test wait for what the fake has seen.

It records every request in the order calls started, a log of starts, ends
and cancellations, how many calls were in flight at once, and the plans
opened and closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from merkle.context.queue import EnqueueResult, EnqueueStatus, FrameRequest

Outcome = str | BaseException


class GateTimeout(Exception):
    """A held call, or a test's wait, was never released: what it waited for never happened."""


class Entry(NamedTuple):
    """One line of the fake's log: `kind` is open, close, start, end or cancelled."""

    kind: str
    plan_id: str | None
    path: str | None = None


@dataclass
class _Gate:
    event: asyncio.Event
    paths: frozenset[str]
    plan_id: str | None
    together: bool
    arrived: set[str] = field(default_factory=set)

    def matches(self, request: FrameRequest) -> bool:
        return request.path in self.paths and self.plan_id in (None, request.plan_id)


def default_frame_id(path: str) -> str:
    """The frame id the fake answers for `path` when nothing else is scripted."""
    return f"frame:{path}"


async def settle(rounds: int = 20) -> None:
    """Let every task that is ready run: yields to the event loop `rounds` times.

    Not a sleep: no time passes. It gives an orchestrator the turns it would
    need to do something wrong (start the next level early) before a test
    checks that it did not.
    """
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeQueue:
    """A scripted `PlanQueue`: per-path outcomes, held calls, and a record of what happened."""

    def __init__(
        self, *, outcomes: Mapping[str, Outcome] | None = None, hold_timeout_s: float = 2.0
    ) -> None:
        self.outcomes: dict[str, Outcome] = dict(outcomes or {})
        self.batch_error: BaseException | None = None
        self.batches: list[list[str]] = []
        self.hold_timeout_s = hold_timeout_s
        self.requests: list[FrameRequest] = []
        self.log: list[Entry] = []
        self.opened: list[str] = []
        self.closed: list[str] = []
        self.cancelled: list[str] = []
        self.timed_out: list[str] = []
        self.in_flight: list[FrameRequest] = []
        self.max_in_flight = 0
        self._gates: list[_Gate] = []
        self._watchers: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    # -- scripting ----------------------------------------------------------------------

    def hold(self, *paths: str, plan_id: str | None = None) -> asyncio.Event:
        """Calls for `paths` (in `plan_id`, if given) wait until the returned event is set."""
        gate = _Gate(asyncio.Event(), frozenset(paths), plan_id, together=False)
        self._gates.append(gate)
        return gate.event

    def hold_together(self, *paths: str, plan_id: str | None = None) -> asyncio.Event:
        """Calls for `paths` wait until all of them are in flight at once, then all complete."""
        gate = _Gate(asyncio.Event(), frozenset(paths), plan_id, together=True)
        self._gates.append(gate)
        return gate.event

    # -- the PlanQueue contract -----------------------------------------------------------

    async def open_plan(self, plan_id: str) -> None:
        """Record that the plan opened."""
        self.opened.append(plan_id)
        self._record(Entry("open", plan_id))

    async def close_plan(self, plan_id: str) -> None:
        """Record that the plan closed."""
        self.closed.append(plan_id)
        self._record(Entry("close", plan_id))

    async def enqueue_batch(
        self, requests: Sequence[FrameRequest], *, wait: bool = False
    ) -> list[EnqueueResult]:
        """Take a batch (or raise `batch_error`); each request is answered by `result`."""
        self.batches.append([request.path for request in requests])
        if self.batch_error is not None:
            raise self.batch_error
        return [
            EnqueueResult(request_id=index, status=EnqueueStatus.ENQUEUED)
            for index, _ in enumerate(requests, start=len(self.requests))
        ]

    async def enqueue_and_wait(self, request: FrameRequest) -> str:
        """`enqueue_batch` of one, then its `result`."""
        (submitted,) = await self.enqueue_batch([request], wait=True)
        return await self.result(request, submitted)

    async def result(self, request: FrameRequest, submitted: EnqueueResult) -> str:
        """Wait for the request's gates, then answer its scripted outcome."""
        self.requests.append(request)
        self.in_flight.append(request)
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
        gates = [gate for gate in self._gates if gate.matches(request)]
        for gate in gates:
            if gate.together:
                gate.arrived.add(request.path)
                if gate.arrived >= gate.paths:
                    gate.event.set()
        self._record(Entry("start", request.plan_id, request.path))
        try:
            for gate in gates:
                await self._wait_gate(gate, request)
        except asyncio.CancelledError:
            self.in_flight.remove(request)
            self.cancelled.append(request.path)
            self._record(Entry("cancelled", request.plan_id, request.path))
            raise
        except GateTimeout:
            self.in_flight.remove(request)
            self.timed_out.append(request.path)
            self._record(Entry("end", request.plan_id, request.path))
            raise
        self.in_flight.remove(request)
        self._record(Entry("end", request.plan_id, request.path))
        outcome = self.outcomes.get(request.path, default_frame_id(request.path))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    # -- observing ----------------------------------------------------------------------

    def started_paths(self, plan_id: str | None = None) -> list[str]:
        """Paths of the calls that started (in `plan_id`, if given), in order."""
        return [r.path for r in self.requests if plan_id in (None, r.plan_id)]

    def kinds(self, kind: str, plan_id: str | None = None) -> list[str | None]:
        """Paths of the log entries of `kind` (in `plan_id`, if given), in order."""
        return [e.path for e in self.log if e.kind == kind and plan_id in (None, e.plan_id)]

    async def wait_until(self, predicate: Callable[[], bool], *, what: str) -> None:
        """Return once `predicate()` holds; `GateTimeout` after `hold_timeout_s`."""
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.append((predicate, future))
        try:
            await asyncio.wait_for(future, self.hold_timeout_s)
        except TimeoutError:
            raise GateTimeout(f"timed out waiting for {what}") from None

    async def ended(self, path: str, *, plan_id: str | None = None) -> None:
        """Return once a call for `path` has answered."""
        await self.wait_until(
            lambda: path in self.kinds("end", plan_id), what=f"{path} to be answered"
        )

    async def started_all(self, paths: Iterable[str], *, plan_id: str | None = None) -> None:
        """Return once a call for every path in `paths` has started."""
        wanted = set(paths)
        await self.wait_until(
            lambda: wanted <= set(self.started_paths(plan_id)), what=f"{sorted(wanted)} to start"
        )

    # -- inside -------------------------------------------------------------------------

    async def _wait_gate(self, gate: _Gate, request: FrameRequest) -> None:
        try:
            await asyncio.wait_for(gate.event.wait(), self.hold_timeout_s)
        except TimeoutError:
            raise GateTimeout(f"{request.path} was held and never released") from None

    def _record(self, entry: Entry) -> None:
        self.log.append(entry)
        for predicate, future in self._watchers:
            if not future.done() and predicate():
                future.set_result(None)
        self._watchers = [(p, f) for p, f in self._watchers if not f.done()]
