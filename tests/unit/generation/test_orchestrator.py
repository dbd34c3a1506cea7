"""GenerationOrchestrator against a fake of the queue's contract (seed 003, section 10).

Every plan runs through `FakeQueue`, which answers scripted outcomes per path
and can hold calls on real asyncio events; each test runs its own event loop
with `asyncio.run`. A held call that is never released times out inside the
fake (and becomes a failure), so a wrong orchestrator fails a test instead of
hanging it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from merkle.context.generation.orchestrator import (
    GenerationOrchestrator,
    GenerationResult,
    LevelSummary,
    NodeFailure,
)
from merkle.context.generation.plan import (
    FailurePolicy,
    GenerationItem,
    GenerationPlan,
    PlanInvalid,
)
from merkle.context.queue import FrameKey, FrameRequest, ListSink, Priority, RequestFailed
from merkle.errors import GenerationFailure, QueueFull
from merkle.store import NodeType
from tests.support.fake_queue import Entry, FakeQueue, default_frame_id, settle

pytestmark = pytest.mark.timeout(10)

AGENT = "writer"
PROVIDER = "local"
FRAME_TYPE = "context"
STOP = FailurePolicy.STOP_ON_LEVEL_FAILURE
CONTINUE = FailurePolicy.CONTINUE
IMMEDIATE = FailurePolicy.FAIL_IMMEDIATELY


def node_id(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()


def item(path: str) -> GenerationItem:
    is_directory = path == "." or "." not in path.rpartition("/")[2]
    return GenerationItem(
        key=FrameKey(node_id(path), AGENT, FRAME_TYPE),
        path=path,
        node_type=NodeType.DIRECTORY if is_directory else NodeType.FILE,
        provider_name=PROVIDER,
    )


def make_plan(
    *levels: Sequence[str],
    plan_id: str = "plan-1",
    policy: FailurePolicy = STOP,
    priority: Priority = Priority.URGENT,
    force: bool = False,
) -> GenerationPlan:
    built = tuple(tuple(item(path) for path in level) for level in levels)
    return GenerationPlan(
        plan_id=plan_id,
        source="context generate test",
        session_id="session-1",
        levels=built,
        priority=priority,
        failure_policy=policy,
        target_path=built[-1][0].path if built and built[-1] else ".",
        total_nodes=sum(len(level) for level in built),
        total_levels=len(built),
        force=force,
    )


def failed(path: str, error_class: str = "provider_error") -> RequestFailed:
    """What the real queue raises once a request failed for good."""
    failure = GenerationFailure(error_class=error_class, message=f"{path}: the provider said no")
    return RequestFailed(failure, attempts=3)


def queue_full(path: str) -> QueueFull:
    """What the real queue raises when it cannot take a request."""
    return QueueFull(
        f"the queue is full (10,000 requests pending or processing); {path} was not added",
        hint="wait for the running work to finish, then try again",
    )


def ids(*paths: str) -> set[str]:
    return {node_id(path) for path in paths}


def frames(*paths: str) -> dict[str, str]:
    return {node_id(path): default_frame_id(path) for path in paths}


def assert_levels_in_order(log: list[Entry], plan: GenerationPlan) -> None:
    """Every call of level i ended before any call of level i + 1 started, levels in plan order."""
    level_of = {it.path: index for index, level in enumerate(plan.levels) for it in level}
    mine = [e for e in log if e.plan_id == plan.plan_id and e.kind in ("start", "end")]
    started_levels = [level_of[e.path] for e in mine if e.kind == "start" and e.path]
    assert started_levels == sorted(started_levels), f"levels started out of order: {mine}"
    for index in range(len(plan.levels) - 1):
        ends = [
            n for n, e in enumerate(mine) if e.kind == "end" and level_of[e.path or ""] == index
        ]
        starts = [
            n for n, e in enumerate(mine) if e.kind == "start" and level_of[e.path or ""] > index
        ]
        if ends and starts:
            assert max(ends) < min(starts), f"level {index + 1} started before {index} ended"


def assert_has(data: Mapping[str, object], expected: Mapping[str, object]) -> None:
    """`data` holds every key of `expected` with the same value."""
    assert {key: data.get(key) for key in expected} == expected


def run(
    plan: GenerationPlan, queue: FakeQueue | None = None
) -> tuple[GenerationResult, FakeQueue, ListSink]:
    """Execute `plan` in a fresh event loop against `queue` (a plain FakeQueue by default)."""
    sink = ListSink()

    async def scenario() -> tuple[GenerationResult, FakeQueue]:
        fake = queue or FakeQueue()
        return await GenerationOrchestrator(fake, sink).execute(plan), fake

    result, fake = asyncio.run(scenario())
    return result, fake, sink


# -- plan execution --------------------------------------------------------------------


def test_single_item_plan_completes_with_one_success() -> None:
    plan = make_plan(["a.txt"], plan_id="single")

    result, queue, _ = run(plan)

    assert result.plan_id == "single"
    assert result.successes == frames("a.txt")
    assert result.failures == {}
    assert result.level_summaries == [LevelSummary(index=0, generated=1, failed=0, total=1)]
    assert (result.total_generated, result.total_failed, result.error) == (1, 0, None)
    assert queue.requests == [
        FrameRequest(
            key=FrameKey(node_id("a.txt"), AGENT, FRAME_TYPE),
            path="a.txt",
            node_type=NodeType.FILE,
            provider_name=PROVIDER,
            priority=Priority.URGENT,
            plan_id="single",
            force=False,
        )
    ]


@pytest.mark.parametrize(
    ("priority", "force"), [(Priority.LOW, False), (Priority.HIGH, True), (Priority.URGENT, True)]
)
def test_every_request_carries_the_plan_priority_force_and_id(
    priority: Priority, force: bool
) -> None:
    plan = make_plan(["src/a.py", "src/b.py"], ["src"], priority=priority, force=force)

    _, queue, _ = run(plan)

    assert [r.path for r in queue.requests] == ["src/a.py", "src/b.py", "src"]
    assert {(r.priority, r.force, r.plan_id) for r in queue.requests} == {
        (priority, force, "plan-1")
    }
    assert [r.node_type for r in queue.requests] == [
        NodeType.FILE,
        NodeType.FILE,
        NodeType.DIRECTORY,
    ]


def test_items_in_the_same_level_are_submitted_concurrently() -> None:
    # Each level's calls complete only once the whole level is in flight at the same
    # moment; an orchestrator that awaits one item before submitting the next times
    # out here (the fake turns that into failures) instead of hanging.
    plan = make_plan(["a.txt", "b.txt", "c.txt"], ["d", "e"])
    queue = FakeQueue(hold_timeout_s=1.0)
    queue.hold_together("a.txt", "b.txt", "c.txt")
    queue.hold_together("d", "e")

    result, queue, _ = run(plan, queue)

    assert queue.timed_out == []
    assert result.failures == {}
    assert result.successes == frames("a.txt", "b.txt", "c.txt", "d", "e")
    # the whole first level was in flight together, and never alongside the second
    assert queue.max_in_flight == 3


def test_levels_execute_in_the_order_provided_each_after_the_previous_completed() -> None:
    # An order no natural rule would produce (neither depth nor name), so the test sees
    # any reordering by the orchestrator.
    plan = make_plan(["zeta.txt", "alpha.txt"], ["beta"], ["gamma/deep/x.py"])

    async def scenario() -> tuple[GenerationResult, FakeQueue]:
        queue = FakeQueue()
        release_alpha = queue.hold("alpha.txt")
        task = asyncio.create_task(GenerationOrchestrator(queue).execute(plan))
        await queue.ended("zeta.txt")
        await settle()
        # half of level 0 answered, the other half held: level 1 must not have started
        assert queue.started_paths() == ["zeta.txt", "alpha.txt"]
        release_alpha.set()
        return await task, queue

    result, queue = asyncio.run(scenario())

    assert queue.started_paths() == ["zeta.txt", "alpha.txt", "beta", "gamma/deep/x.py"]
    assert_levels_in_order(queue.log, plan)
    assert [s.index for s in result.level_summaries] == [0, 1, 2]
    assert result.successes == frames("zeta.txt", "alpha.txt", "beta", "gamma/deep/x.py")


# -- failure policies ------------------------------------------------------------------


def test_stop_on_level_failure_finishes_the_failed_level_and_runs_no_later_level() -> None:
    plan = make_plan(["a.txt", "b.txt", "c.txt", "d.txt"], ["src"], ["."], policy=STOP)

    async def scenario() -> tuple[GenerationResult, FakeQueue, ListSink]:
        queue = FakeQueue(outcomes={"b.txt": failed("b.txt"), "c.txt": failed("c.txt")})
        sink = ListSink()
        # c and d are answered only after b failed: the level still runs to its barrier
        release = queue.hold("c.txt", "d.txt")
        task = asyncio.create_task(GenerationOrchestrator(queue, sink).execute(plan))
        await queue.ended("b.txt")
        release.set()
        return await task, queue, sink

    result, queue, sink = asyncio.run(scenario())

    assert result.successes == frames("a.txt", "d.txt")
    assert result.failures == {
        node_id("b.txt"): NodeFailure(
            path="b.txt", error_class="provider_error", message="b.txt: the provider said no"
        ),
        node_id("c.txt"): NodeFailure(
            path="c.txt", error_class="provider_error", message="c.txt: the provider said no"
        ),
    }
    assert result.level_summaries == [LevelSummary(index=0, generated=2, failed=2, total=4)]
    assert result.error is not None
    assert "b.txt" in result.error and "c.txt" in result.error
    assert queue.started_paths() == ["a.txt", "b.txt", "c.txt", "d.txt"]
    assert queue.cancelled == []
    assert [d["level"] for t, d in sink.events if t == "level_started"] == [0]
    assert sink.types()[-1] == "generation_failed"


def test_continue_executes_all_levels_and_reports_mixed_results() -> None:
    plan = make_plan(["a.txt", "b.txt"], ["docs", "src"], ["."], policy=CONTINUE)
    queue = FakeQueue(outcomes={"b.txt": failed("b.txt"), "src": queue_full("src")})

    result, queue, _ = run(plan, queue)

    assert queue.started_paths() == ["a.txt", "b.txt", "docs", "src", "."]
    assert_levels_in_order(queue.log, plan)
    assert result.successes == frames("a.txt", "docs", ".")
    assert set(result.failures) == ids("b.txt", "src")
    assert result.failures[node_id("src")].error_class == "queue_full"
    assert result.level_summaries == [
        LevelSummary(index=0, generated=1, failed=1, total=2),
        LevelSummary(index=1, generated=1, failed=1, total=2),
        LevelSummary(index=2, generated=1, failed=0, total=1),
    ]
    assert (result.total_generated, result.total_failed) == (3, 2)
    assert result.error is None


def test_fail_immediately_stops_at_the_first_failed_item_and_cancels_the_rest() -> None:
    plan = make_plan(["c.txt"], ["d.txt", "a.txt", "b.txt"], ["."], policy=IMMEDIATE)

    async def scenario() -> tuple[GenerationResult, FakeQueue]:
        queue = FakeQueue(outcomes={"a.txt": failed("a.txt")})
        release_a = queue.hold("a.txt")
        queue.hold("b.txt")  # never released: only a cancel ends this call in time
        task = asyncio.create_task(GenerationOrchestrator(queue).execute(plan))
        await queue.ended("d.txt")
        release_a.set()
        return await task, queue

    result, queue = asyncio.run(scenario())

    assert result.successes == frames("c.txt", "d.txt")  # completed work is kept
    assert set(result.failures) == ids("a.txt")
    assert node_id("b.txt") not in result.successes | result.failures
    assert queue.cancelled == ["b.txt"]
    assert queue.timed_out == []
    assert "." not in queue.started_paths()
    assert result.level_summaries == [
        LevelSummary(index=0, generated=1, failed=0, total=1),
        LevelSummary(index=1, generated=1, failed=1, total=3),
    ]
    assert result.error is not None and "a.txt" in result.error


def _invalid_plans() -> list[Any]:
    good = make_plan(["a.txt"], ["src"])
    bad_item = GenerationItem(
        key=FrameKey("", AGENT, FRAME_TYPE),
        path="a.txt",
        node_type=NodeType.FILE,
        provider_name=PROVIDER,
    )
    return [
        pytest.param(make_plan(["a.txt"], [], ["."]), id="empty-level"),
        pytest.param(make_plan(["a.txt"], ["a.txt"]), id="duplicate-key"),
        pytest.param(
            replace(good, levels=((bad_item,),), total_nodes=1, total_levels=1),
            id="missing-node-id",
        ),
        pytest.param(replace(good, total_nodes=5), id="wrong-total"),
        pytest.param(replace(good, plan_id=""), id="no-plan-id"),
    ]


@pytest.mark.parametrize("plan", _invalid_plans())
def test_invalid_plan_is_rejected_before_the_first_enqueue(plan: GenerationPlan) -> None:
    queue = FakeQueue()
    sink = ListSink()

    with pytest.raises(PlanInvalid):
        asyncio.run(GenerationOrchestrator(queue, sink).execute(plan))

    assert queue.requests == []
    assert (queue.opened, queue.closed) == ([], [])
    assert sink.events == []


def test_queue_full_rejection_is_a_queue_full_failure_and_nothing_is_dropped() -> None:
    plan = make_plan(["a.txt", "b.txt", "c.txt"], ["src"], ["."], policy=CONTINUE)
    queue = FakeQueue(outcomes={"b.txt": queue_full("b.txt"), "src": queue_full("src")})

    result, queue, sink = run(plan, queue)

    assert {path: f.error_class for path, f in result.failures.items()} == {
        node_id("b.txt"): "queue_full",
        node_id("src"): "queue_full",
    }
    assert "b.txt was not added" in result.failures[node_id("b.txt")].message
    # every item of the plan is accounted for: a success or a failure, never neither
    assert set(result.successes) | set(result.failures) == {
        it.node_id for level in plan.levels for it in level
    }
    assert result.total_generated + result.total_failed == plan.total_nodes
    assert sum(s.generated + s.failed for s in result.level_summaries) == plan.total_nodes
    failed_events = [d for t, d in sink.events if t == "node_generation_failed"]
    assert {(d["path"], d["error_class"]) for d in failed_events} == {
        ("b.txt", "queue_full"),
        ("src", "queue_full"),
    }


def test_queue_full_failure_tells_the_user_to_wait_and_retry() -> None:
    # Seed 003 section 7: "Queue full: Queue rejects enqueue. Return error suggesting
    # the user wait and retry." The real QueueFull carries that advice in its hint.
    plan = make_plan(["a.txt"], ["src"], policy=STOP)
    queue = FakeQueue(outcomes={"a.txt": queue_full("a.txt")})

    result, _, _ = run(plan, queue)

    reported = json.dumps(result.to_json()).lower()
    assert "wait" in reported
    assert "try again" in reported or "retry" in reported


def test_a_level_is_submitted_as_one_batch_and_a_refused_batch_fails_each_item() -> None:
    plan = make_plan(["a.txt", "b.txt"], ["src"], ["."], policy=STOP)
    queue = FakeQueue()
    queue.batch_error = queue_full("2 requests")

    result, queue, sink = run(plan, queue)

    assert queue.batches == [["a.txt", "b.txt"]]  # one batch for the level, then the stop
    assert queue.requests == []  # nothing of a refused batch is waited on
    assert {f.path: f.error_class for f in result.failures.values()} == {
        "a.txt": "queue_full",
        "b.txt": "queue_full",
    }
    assert result.level_summaries == [LevelSummary(index=0, generated=0, failed=2, total=2)]
    assert result.error is not None and "later levels were not run" in result.error
    failed = [d["path"] for t, d in sink.events if t == "node_generation_failed"]
    assert failed == ["a.txt", "b.txt"]


def test_every_level_goes_to_the_queue_as_one_batch_in_plan_order() -> None:
    plan = make_plan(["a.txt", "src/b.txt"], ["src"], ["."])

    _, queue, _ = run(plan)

    assert queue.batches == [["a.txt", "src/b.txt"], ["src"], ["."]]


def test_an_unclassified_queue_error_becomes_the_node_failure() -> None:
    plan = make_plan(["a.txt", "b.txt"], policy=STOP)
    queue = FakeQueue(outcomes={"a.txt": RuntimeError("the worker went away")})

    result, _, _ = run(plan, queue)

    assert result.failures == {
        node_id("a.txt"): NodeFailure(
            path="a.txt", error_class="RuntimeError", message="the worker went away"
        )
    }
    assert result.successes == frames("b.txt")


# -- several plans at once -------------------------------------------------------------


def test_two_plans_execute_concurrently_with_independent_state() -> None:
    plan_a = make_plan(["a/1.txt", "a/2.txt"], ["a"], plan_id="A", policy=STOP)
    plan_b = make_plan(["b/1.txt", "b/2.txt"], ["b"], plan_id="B", policy=CONTINUE)

    async def scenario() -> tuple[GenerationResult, GenerationResult, FakeQueue, ListSink]:
        queue = FakeQueue(outcomes={"a/2.txt": failed("a/2.txt")}, hold_timeout_s=1.0)
        # the first levels of both plans must be in flight at the same moment
        queue.hold_together("a/1.txt", "a/2.txt", "b/1.txt", "b/2.txt")
        sink = ListSink()
        orchestrator = GenerationOrchestrator(queue, sink)
        result_a, result_b = await asyncio.gather(
            orchestrator.execute(plan_a), orchestrator.execute(plan_b)
        )
        return result_a, result_b, queue, sink

    result_a, result_b, queue, sink = asyncio.run(scenario())

    assert queue.timed_out == []
    assert (result_a.plan_id, result_b.plan_id) == ("A", "B")
    assert result_a.successes == frames("a/1.txt")
    assert set(result_a.failures) == ids("a/2.txt")
    assert result_a.error is not None and "a/2.txt" in result_a.error
    assert result_b.successes == frames("b/1.txt", "b/2.txt", "b")
    assert (result_b.failures, result_b.error) == ({}, None)
    assert queue.started_paths("A") == ["a/1.txt", "a/2.txt"]  # A stopped, B went on
    assert queue.started_paths("B") == ["b/1.txt", "b/2.txt", "b"]
    assert sorted(queue.opened) == sorted(queue.closed) == ["A", "B"]
    prefix = {"A": "a", "B": "b"}
    for event_type, data in sink.events:
        if "path" in data:
            assert str(data["path"]).startswith(prefix[str(data["plan_id"])]), event_type


def test_completion_of_one_plan_does_not_release_the_level_barrier_of_another() -> None:
    # Both plans hold the same node; B finishing it (and everything else) must not
    # move A past its level 0 while A's own a.txt is still held.
    plan_a = make_plan(["shared.txt", "a.txt"], ["a-dir"], plan_id="A")
    plan_b = make_plan(["shared.txt"], ["b-dir"], plan_id="B")

    async def scenario() -> tuple[GenerationResult, GenerationResult, FakeQueue]:
        queue = FakeQueue()
        release_a = queue.hold("a.txt", plan_id="A")
        orchestrator = GenerationOrchestrator(queue)
        task_a = asyncio.create_task(orchestrator.execute(plan_a))
        await queue.started_all(["shared.txt", "a.txt"], plan_id="A")
        result_b = await orchestrator.execute(plan_b)
        await settle()
        assert queue.started_paths("A") == ["shared.txt", "a.txt"]
        assert queue.closed == ["B"]
        release_a.set()
        return await task_a, result_b, queue

    result_a, result_b, queue = asyncio.run(scenario())

    assert result_b.successes == frames("shared.txt", "b-dir")
    assert result_a.successes == frames("shared.txt", "a.txt", "a-dir")
    assert result_a.level_summaries == [
        LevelSummary(index=0, generated=2, failed=0, total=2),
        LevelSummary(index=1, generated=1, failed=0, total=1),
    ]
    assert_levels_in_order(queue.log, plan_a)
    assert queue.closed == ["B", "A"]


# -- events, plan bracketing, the result ----------------------------------------------


def test_events_follow_the_plan_in_order() -> None:
    plan = make_plan(["a.txt"], ["src"], ["."], plan_id="ev", policy=STOP)
    queue = FakeQueue(outcomes={"src": failed("src")})

    _, _, sink = run(plan, queue)

    assert sink.types() == [
        "generation_started",
        "level_started",
        "node_generation_started",
        "node_generation_completed",
        "level_completed",
        "level_started",
        "node_generation_started",
        "node_generation_failed",
        "level_completed",
        "generation_failed",
    ]
    events = sink.events
    assert all(data["plan_id"] == "ev" for _, data in events)
    assert_has(events[0][1], {"total_nodes": 3, "total_levels": 3, "target_path": "."})
    assert events[0][1]["session_id"] == "session-1"
    assert_has(events[3][1], {"path": "a.txt", "frame_id": default_frame_id("a.txt")})
    assert_has(events[4][1], {"level": 0, "generated": 1, "failed": 0, "total": 1})
    assert_has(events[7][1], {"path": "src", "error_class": "provider_error"})
    assert_has(events[8][1], {"level": 1, "generated": 0, "failed": 1, "total": 1})
    assert_has(events[9][1], {"total_generated": 1, "total_failed": 1})
    assert events[9][1]["error"]


def test_a_plan_without_failures_ends_with_generation_completed() -> None:
    plan = make_plan(["a.txt", "b.txt", "c.txt"], ["src"])

    _, _, sink = run(plan)

    types = sink.types()
    assert types[0] == "generation_started"
    assert types[-1] == "generation_completed"
    assert "generation_failed" not in types
    assert_has(sink.events[-1][1], {"total_generated": 4, "total_failed": 0, "error": None})
    # each node's started and completed events lie between its level's brackets
    brackets = [(event_type, data.get("level")) for event_type, data in sink.events]
    for index, level in enumerate(plan.levels):
        opened = brackets.index(("level_started", index))
        closed = brackets.index(("level_completed", index))
        inside = [str(d["path"]) for t, d in sink.events[opened:closed] if t.startswith("node_")]
        assert sorted(inside) == sorted(2 * [it.path for it in level])


@pytest.mark.parametrize("policy", [STOP, CONTINUE, IMMEDIATE])
def test_the_plan_is_opened_and_closed_once_even_when_it_fails(policy: FailurePolicy) -> None:
    plan = make_plan(["a.txt", "b.txt"], ["src"], plan_id="bracket", policy=policy)
    queue = FakeQueue(outcomes={"a.txt": failed("a.txt")})

    _, queue, _ = run(plan, queue)

    assert (queue.opened, queue.closed) == (["bracket"], ["bracket"])
    assert queue.log[0] == Entry("open", "bracket")
    assert queue.log[-1] == Entry("close", "bracket")


def test_a_cancelled_run_closes_its_plan_and_stops_waiting_on_the_queue() -> None:
    plan = make_plan(["a.txt", "b.txt"], ["src"], plan_id="cut")

    async def scenario() -> FakeQueue:
        queue = FakeQueue()
        queue.hold("b.txt")
        task = asyncio.create_task(GenerationOrchestrator(queue).execute(plan))
        await queue.ended("a.txt")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await settle()
        # checked inside the loop: at its end asyncio.run cancels whatever is left anyway
        assert queue.cancelled == ["b.txt"], "the run was cancelled, its queue wait was not"
        assert queue.in_flight == []
        return queue

    queue = asyncio.run(scenario())

    assert (queue.opened, queue.closed) == (["cut"], ["cut"])
    assert queue.timed_out == []
    # the plan closes only once nothing of it is waited on any more
    assert queue.log[-2:] == [Entry("cancelled", "cut", "b.txt"), Entry("close", "cut")]


def test_to_json_has_the_result_shape() -> None:
    plan = make_plan(["a.txt", "b.txt"], ["."], plan_id="js", policy=STOP)
    queue = FakeQueue(outcomes={"b.txt": failed("b.txt", "rate_limited")})

    result, _, _ = run(plan, queue)
    payload = result.to_json()

    assert payload == {
        "plan_id": "js",
        "successes": frames("a.txt"),
        "failures": {
            node_id("b.txt"): {
                "path": "b.txt",
                "error_class": "rate_limited",
                "message": "b.txt: the provider said no",
            }
        },
        "level_summaries": [{"level": 0, "generated": 1, "failed": 1, "total": 2}],
        "total_generated": 1,
        "total_failed": 1,
        "error": result.error,
    }
    assert isinstance(payload["error"], str) and "b.txt" in payload["error"]
    assert json.loads(json.dumps(payload)) == payload
