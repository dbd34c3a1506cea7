"""GenerationOrchestrator: executes a plan level by level through the queue (seed 003).

It submits every item of a level at once (one batch, stored all or none),
waits for the whole level (the barrier), records each outcome, applies the
plan's failure policy, and
returns a GenerationResult. It emits execution events through the sink. It
never touches the store, the tree or a provider: its only dependencies are
the queue's contract and the sink, and it keeps no state between plans, so
several plans can run at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from merkle.context.generation.plan import (
    FailurePolicy,
    GenerationItem,
    GenerationPlan,
    validate_plan,
)
from merkle.context.queue import EnqueueResult, EventSink, FrameRequest, NullSink
from merkle.errors import MerkleError, failure_of


class PlanQueue(Protocol):
    """What the orchestrator needs from the queue."""

    async def enqueue_batch(
        self, requests: Sequence[FrameRequest], *, wait: bool = False
    ) -> list[EnqueueResult]:
        """Submit a level's requests at once, all or none (`QueueFull`)."""
        ...

    async def result(self, request: FrameRequest, submitted: EnqueueResult) -> str:
        """The frame id of a submitted request, or its final classified error."""
        ...

    async def open_plan(self, plan_id: str) -> None:
        """The plan starts: its requests run before other work."""
        ...

    async def close_plan(self, plan_id: str) -> None:
        """The plan is done."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFailure:
    """Why a node failed: its path, the error class and the message."""

    path: str
    error_class: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelSummary:
    """The outcome of one level."""

    index: int
    generated: int
    failed: int
    total: int


@dataclass(slots=True, kw_only=True)
class GenerationResult:
    """The programmatic answer of a plan: per node, per level, and totals.

    `error` is set when the failure policy stopped the plan early (it names the
    failed nodes); the results gathered until then are kept.
    """

    plan_id: str
    successes: dict[str, str] = field(default_factory=dict)
    failures: dict[str, NodeFailure] = field(default_factory=dict)
    level_summaries: list[LevelSummary] = field(default_factory=list)
    error: str | None = None

    @property
    def total_generated(self) -> int:
        """Nodes that have a frame."""
        return len(self.successes)

    @property
    def total_failed(self) -> int:
        """Nodes that failed for good."""
        return len(self.failures)

    def to_json(self) -> dict[str, Any]:
        """The result as plain data (what `--json` prints)."""
        return {
            "plan_id": self.plan_id,
            "successes": dict(self.successes),
            "failures": {
                node_id: {"path": f.path, "error_class": f.error_class, "message": f.message}
                for node_id, f in self.failures.items()
            },
            "level_summaries": [
                {"level": s.index, "generated": s.generated, "failed": s.failed, "total": s.total}
                for s in self.level_summaries
            ],
            "total_generated": self.total_generated,
            "total_failed": self.total_failed,
            "error": self.error,
        }


def _failure(item: GenerationItem, error: BaseException) -> NodeFailure:
    failure = failure_of(error)
    message = failure.message
    if isinstance(error, MerkleError) and error.hint:
        message = f"{message} ({error.hint})"
    return NodeFailure(path=item.path, error_class=failure.error_class, message=message)


def _request(plan: GenerationPlan, item: GenerationItem) -> FrameRequest:
    return FrameRequest(
        key=item.key,
        path=item.path,
        node_type=item.node_type,
        provider_name=item.provider_name,
        priority=plan.priority,
        plan_id=plan.plan_id,
        force=plan.force or item.force,
    )


class GenerationOrchestrator:
    """Runs generation plans through the queue."""

    def __init__(self, queue: PlanQueue, sink: EventSink | None = None) -> None:
        self._queue = queue
        self._sink = sink or NullSink()

    async def execute(self, plan: GenerationPlan) -> GenerationResult:
        """Run `plan` and return its result. Raises `PlanInvalid` before any enqueue."""
        validate_plan(plan)
        result = GenerationResult(plan_id=plan.plan_id)
        base = {"plan_id": plan.plan_id, "session_id": plan.session_id}
        self._sink.emit(
            "generation_started",
            {**base, "target_path": plan.target_path, "total_nodes": plan.total_nodes,
             "total_levels": plan.total_levels, "failure_policy": plan.failure_policy.value},
        )  # fmt: skip
        await self._queue.open_plan(plan.plan_id)
        try:
            for index, level in enumerate(plan.levels):
                stop = await self._run_level(plan, index, level, result)
                if stop:
                    break
        finally:
            await asyncio.shield(self._queue.close_plan(plan.plan_id))
        ending = "generation_failed" if result.error or result.failures else "generation_completed"
        self._sink.emit(
            ending,
            {**base, "total_generated": result.total_generated,
             "total_failed": result.total_failed, "error": result.error},
        )  # fmt: skip
        return result

    async def _run_level(
        self,
        plan: GenerationPlan,
        index: int,
        level: tuple[GenerationItem, ...],
        result: GenerationResult,
    ) -> bool:
        """Run one level to its barrier; True when the policy stops the plan here."""
        self._sink.emit(
            "level_started", {"plan_id": plan.plan_id, "level": index, "total": len(level)}
        )
        failed_here: list[NodeFailure] = []
        immediate = plan.failure_policy is FailurePolicy.FAIL_IMMEDIATELY
        requests = [_request(plan, item) for item in level]
        for item in level:
            self._sink.emit("node_generation_started", self._info(plan, item, index))
        try:
            submitted = await self._queue.enqueue_batch(requests, wait=True)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # nothing of the level was stored: each item failed
            for item in level:
                self._record_failure(plan, item, index, _failure(item, error), result)
                failed_here.append(result.failures[item.node_id])
        else:
            tasks = [
                asyncio.create_task(self._run_item(plan, item, index, request, done))
                for item, request, done in zip(level, requests, submitted, strict=True)
            ]
            try:
                await self._await_level(tasks, result, failed_here, immediate=immediate)
            except asyncio.CancelledError:
                # The run was cancelled: stop waiting on the queue for this level too.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        generated = sum(1 for item in level if item.node_id in result.successes)
        result.level_summaries.append(
            LevelSummary(
                index=index, generated=generated, failed=len(failed_here), total=len(level)
            )
        )
        self._sink.emit(
            "level_completed",
            {"plan_id": plan.plan_id, "level": index, "generated": generated,
             "failed": len(failed_here), "total": len(level)},
        )  # fmt: skip
        if not failed_here or plan.failure_policy is FailurePolicy.CONTINUE:
            return False
        paths = ", ".join(f.path for f in failed_here[:5])
        more = f" and {len(failed_here) - 5} more" if len(failed_here) > 5 else ""
        if immediate:
            result.error = f"stopped at the first failure: {paths}"
        else:
            result.error = f"level {index} failed ({paths}{more}); later levels were not run"
        return True

    @staticmethod
    async def _await_level(
        tasks: list[asyncio.Task[tuple[GenerationItem, str | None, NodeFailure | None]]],
        result: GenerationResult,
        failed_here: list[NodeFailure],
        *,
        immediate: bool,
    ) -> None:
        """Wait for the level's items (the barrier), recording each outcome; with
        `immediate`, cancel the rest at the first failure."""
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                item, frame_id, failure = task.result()
                if failure is None:
                    assert frame_id is not None
                    result.successes[item.node_id] = frame_id
                else:
                    result.failures[item.node_id] = failure
                    failed_here.append(failure)
            if failed_here and immediate and pending:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                pending = set()

    @staticmethod
    def _info(plan: GenerationPlan, item: GenerationItem, level: int) -> dict[str, object]:
        return {"plan_id": plan.plan_id, "node_id": item.node_id, "path": item.path, "level": level}

    def _record_failure(
        self,
        plan: GenerationPlan,
        item: GenerationItem,
        level: int,
        failure: NodeFailure,
        result: GenerationResult,
    ) -> None:
        result.failures[item.node_id] = failure
        self._sink.emit(
            "node_generation_failed",
            {**self._info(plan, item, level), "error_class": failure.error_class,
             "message": failure.message},
        )  # fmt: skip

    async def _run_item(
        self,
        plan: GenerationPlan,
        item: GenerationItem,
        level: int,
        request: FrameRequest,
        submitted: EnqueueResult,
    ) -> tuple[GenerationItem, str | None, NodeFailure | None]:
        info = self._info(plan, item, level)
        try:
            frame_id = await self._queue.result(request, submitted)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # every failure becomes the node's outcome
            failure = _failure(item, error)
            self._sink.emit(
                "node_generation_failed",
                {**info, "error_class": failure.error_class, "message": failure.message},
            )
            return item, None, failure
        self._sink.emit("node_generation_completed", {**info, "frame_id": frame_id})
        return item, frame_id, None
