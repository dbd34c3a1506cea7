"""The frame generation queue in one process: the real store, the real generator,
the `openai` provider against the test server.

Order is made observable without timing: an open plan with no items holds
every other request pending (`held`), a reply with `in_flight=N` keeps a
request processing until N requests are at the server, and a fake clock
keeps a retry or a rate-limited start from becoming due until the test
advances it. A "probe" request of another agent, enqueued after an advance,
proves that the dispatcher ran a claim at that clock reading: the claim
looks at older requests of equal or higher priority first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from merkle.context.api import FrameDraft
from merkle.context.queue import (
    AgentLimits,
    EnqueueStatus,
    FrameKey,
    Priority,
    RequestFailed,
    RetrySettings,
)
from merkle.context.queue.queue import FrameGenerationQueue
from merkle.errors import QueueFull, StoreBusy
from merkle.metadata import Source, build_metadata
from merkle.workspace.layout import Workspace
from tests.support.apps import app_of
from tests.support.llm_server import Reply
from tests.support.queue_support import (
    AGENT,
    API_KEY,
    BAD_API_KEY,
    BAD_KEY_PROVIDER,
    FRAME_TYPE,
    PROBE_AGENT,
    REMOTE,
    REMOTE_B,
    FakeClock,
    QueueBench,
    event_text,
    fast_settings,
    is_subsequence,
    queue_bench,
    run_scenario,
    running_queue,
    server_received,
    until,
)

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def bench(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[QueueBench]:
    with queue_bench(workspace, monkeypatch) as running:
        yield running


def f(index: int) -> str:
    return f"src/f{index:02d}.py"


@asynccontextmanager
async def held(queue: FrameGenerationQueue, plan_id: str = "hold") -> AsyncIterator[None]:
    """While open, an item-less plan is active, so no other request is claimed."""
    await queue.open_plan(plan_id)
    try:
        yield
    finally:
        await queue.close_plan(plan_id)


async def probe(
    queue: FrameGenerationQueue, bench: QueueBench, path: str, *, provider: str = REMOTE
) -> None:
    """Run one low-priority request of the probe agent to completion.

    Its claim happened at the current clock reading and looked at every older
    request first, so afterwards an older request still pending was not due.
    """
    request = bench.request(path, agent_id=PROBE_AGENT, priority=Priority.LOW, provider=provider)
    await asyncio.wait_for(queue.enqueue_and_wait(request), 5)


# -- scheduling ------------------------------------------------------------------------


def test_priority_order_with_fifo_within_a_priority(bench: QueueBench) -> None:
    order = [
        (f(0), Priority.LOW),
        (f(1), Priority.NORMAL),
        (f(2), Priority.URGENT),
        (f(3), Priority.HIGH),
        (f(4), Priority.LOW),
        (f(5), Priority.URGENT),
        (f(6), Priority.NORMAL),
        (f(7), Priority.HIGH),
    ]

    async def scenario() -> None:
        limits = {AGENT: AgentLimits(max_concurrent=1)}
        async with running_queue(bench, limits=limits) as queue:
            async with held(queue):
                for path, priority in order:
                    result = await queue.enqueue(bench.request(path, priority=priority))
                    assert result.status is EnqueueStatus.ENQUEUED
                assert {row.state for row in bench.rows()} == {"pending"}
            await queue.wait_for_completion(timeout_s=5)

    run_scenario(scenario())
    expected = [f(2), f(5), f(3), f(7), f(1), f(6), f(0), f(4)]
    assert bench.server_paths() == expected
    assert bench.event_paths("request_processing") == expected


def test_joining_with_a_higher_priority_raises_the_shared_request(bench: QueueBench) -> None:
    async def scenario() -> None:
        limits = {AGENT: AgentLimits(max_concurrent=1)}
        async with running_queue(bench, limits=limits) as queue:
            async with held(queue):
                await queue.enqueue(bench.request(f(0), priority=Priority.NORMAL))
                await queue.enqueue(bench.request(f(1), priority=Priority.LOW))
                joined = await queue.enqueue(bench.request(f(1), priority=Priority.URGENT))
                assert joined.status is EnqueueStatus.DEDUPLICATED
            await queue.wait_for_completion(timeout_s=5)

    run_scenario(scenario())
    assert bench.server_paths() == [f(1), f(0)]


def test_active_plan_runs_before_direct_work_and_later_plans(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            await queue.open_plan("A")
            await queue.open_plan("B")
            direct = asyncio.create_task(
                queue.enqueue_and_wait(bench.request(f(0), priority=Priority.URGENT))
            )
            plan_b = [
                asyncio.create_task(
                    queue.enqueue_and_wait(bench.request(f(i), priority=Priority.HIGH, plan_id="B"))
                )
                for i in (1, 2)
            ]
            await until(lambda: len(bench.rows()) == 3, what="the direct and plan B requests")

            # Plan A's first item is held at the server until a second request arrives.
            bench.server.script(Reply.answer(in_flight=2))
            a3 = asyncio.create_task(
                queue.enqueue_and_wait(bench.request(f(3), priority=Priority.LOW, plan_id="A"))
            )
            await server_received(bench.server, 1)
            assert bench.row(f(3)).state == "processing"
            # A direct request for the key plan A is working on shares that work.
            shared = asyncio.create_task(
                queue.enqueue_and_wait(bench.request(f(3), provider=REMOTE_B))
            )
            await until(lambda: bench.row(f(3)).joined == 1, what="the direct request to join")
            a4 = asyncio.create_task(
                queue.enqueue_and_wait(bench.request(f(4), priority=Priority.LOW, plan_id="A"))
            )
            a3_frame, shared_frame, _ = await asyncio.wait_for(asyncio.gather(a3, shared, a4), 5)
            assert shared_frame == a3_frame
            assert sorted(bench.server_paths()) == [f(3), f(4)]
            assert [bench.row(f(i)).state for i in (0, 1, 2)] == ["pending"] * 3

            await queue.close_plan("A")
            await asyncio.wait_for(asyncio.gather(*plan_b), 5)
            assert bench.row(f(0)).state == "pending"
            assert sorted(bench.server_paths()[2:]) == [f(1), f(2)]

            await queue.close_plan("B")
            await asyncio.wait_for(direct, 5)

    run_scenario(scenario())
    assert len(bench.server_paths()) == 5
    assert bench.server_paths()[-1] == f(0)
    processing = bench.event_paths("request_processing")
    assert set(processing[:2]) == {f(3), f(4)}
    assert set(processing[2:4]) == {f(1), f(2)}
    assert processing[4:] == [f(0)]


def test_active_plan_item_joining_pending_direct_work_runs_within_the_plan(
    bench: QueueBench,
) -> None:
    # A watcher's request is pending while plan A is active; plan A then submits
    # the same key. The shared request must run as part of plan A, or plan A
    # waits for work that waits for plan A.
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            await queue.open_plan("A")
            watcher = asyncio.create_task(queue.enqueue_and_wait(bench.request(f(0))))
            await until(lambda: len(bench.rows()) == 1, what="the direct request")
            planned = queue.enqueue_and_wait(bench.request(f(0), plan_id="A"))
            frame_id = await asyncio.wait_for(planned, 3)
            assert await asyncio.wait_for(watcher, 3) == frame_id
            await queue.close_plan("A")

    run_scenario(scenario())
    assert bench.server_paths() == [f(0)]


def test_active_plan_item_joining_another_plans_pending_work_runs_within_the_plan(
    bench: QueueBench,
) -> None:
    # Plan B (waiting behind A) holds a pending request for a key that the active
    # plan A then submits: A must not wait for B, which waits for A.
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            await queue.open_plan("A")
            await queue.open_plan("B")
            plan_b = asyncio.create_task(queue.enqueue_and_wait(bench.request(f(0), plan_id="B")))
            await until(lambda: len(bench.rows()) == 1, what="plan B's request")
            planned = queue.enqueue_and_wait(bench.request(f(0), plan_id="A"))
            frame_id = await asyncio.wait_for(planned, 3)
            await queue.close_plan("A")
            await queue.close_plan("B")
            assert await asyncio.wait_for(plan_b, 3) == frame_id

    run_scenario(scenario())
    assert bench.server_paths() == [f(0)]


# -- deduplication and heads -------------------------------------------------------------


def test_duplicate_key_while_pending_shares_one_provider_call(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            async with held(queue):
                first = asyncio.create_task(queue.enqueue_and_wait(bench.request(f(0))))
                await until(lambda: len(bench.rows()) == 1, what="the first request")
                # Another provider is still the same key.
                second = asyncio.create_task(
                    queue.enqueue_and_wait(bench.request(f(0), provider=REMOTE_B))
                )
                await until(lambda: bench.row(f(0)).joined == 1, what="the second to join")
                assert bench.row(f(0)).state == "pending"
            frame_ids = await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert frame_ids[0] == frame_ids[1]

    run_scenario(scenario())
    assert bench.server_paths() == [f(0)]
    assert len(bench.rows()) == 1
    assert bench.sink.types().count("request_deduplicated") == 1
    assert bench.sink.types().count("provider_request_sent") == 1


def test_duplicate_key_while_processing_shares_completion(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            # The first answer waits until a second request is at the server.
            bench.server.script(Reply.answer(in_flight=2))
            first = asyncio.create_task(queue.enqueue_and_wait(bench.request(f(0))))
            await server_received(bench.server, 1)
            assert bench.row(f(0)).state == "processing"
            second = asyncio.create_task(
                queue.enqueue_and_wait(bench.request(f(0), provider=REMOTE_B))
            )
            await until(lambda: bench.row(f(0)).joined == 1, what="the second to join")
            other = asyncio.create_task(queue.enqueue_and_wait(bench.request(f(1))))
            a, b, _ = await asyncio.wait_for(asyncio.gather(first, second, other), 5)
            assert a == b

    run_scenario(scenario())
    assert sorted(bench.server_paths()) == [f(0), f(1)]
    assert len(bench.rows(f(0))) == 1


def test_existing_head_short_circuits_and_force_regenerates(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            frame_id = await asyncio.wait_for(queue.enqueue_and_wait(bench.request(f(0))), 5)

            again = await queue.enqueue(bench.request(f(0), provider=REMOTE_B))
            assert again.status is EnqueueStatus.HEAD_EXISTS
            assert again.request_id is None
            assert again.frame_id == frame_id
            assert await queue.enqueue_and_wait(bench.request(f(0))) == frame_id
            assert len(bench.server.requests) == 1
            assert len(bench.rows()) == 1

            bench.server.script(Reply.answer("A fresh note, written on request."))
            forced = await asyncio.wait_for(
                queue.enqueue_and_wait(bench.request(f(0), force=True)), 5
            )
            assert forced != frame_id
            assert bench.head_id(f(0)) == forced

    run_scenario(scenario())
    assert bench.server_paths() == [f(0), f(0)]


def test_force_regenerates_even_within_one_clock_tick(bench: QueueBench) -> None:
    # A coarse or stepped-back wall clock gives the forced request the same
    # timestamp as the head it must replace; force still means a new call.
    clock = FakeClock()

    async def scenario() -> None:
        async with running_queue(bench, clock=clock) as queue:
            frame_id = await asyncio.wait_for(queue.enqueue_and_wait(bench.request(f(0))), 5)
            bench.server.script(Reply.answer("A fresh note, written on request."))
            forced = await asyncio.wait_for(
                queue.enqueue_and_wait(bench.request(f(0), force=True)), 5
            )
            assert forced != frame_id

    run_scenario(scenario())
    assert bench.server_paths() == [f(0), f(0)]


def test_head_written_while_pending_settles_the_request_without_a_call(
    bench: QueueBench,
) -> None:
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            async with held(queue):
                waiting = asyncio.create_task(queue.enqueue_and_wait(bench.request(f(0))))
                await until(lambda: len(bench.rows()) == 1, what="the request")
                with app_of(bench.workspace) as app:
                    written = app.context.put_frame(
                        FrameDraft(
                            key=FrameKey(bench.nodes[f(0)].node_id, AGENT, FRAME_TYPE),
                            content="Written by hand while the request waited.",
                            metadata=build_metadata(
                                agent_id=AGENT, frame_type=FRAME_TYPE, source=Source.MANUAL
                            ),
                        )
                    )
            assert await asyncio.wait_for(waiting, 5) == written.frame_id

    run_scenario(scenario())
    assert bench.server.requests == []
    assert bench.row(f(0)).state == "done"


# -- retries and failures --------------------------------------------------------------------


def test_retry_honours_backoff_and_retry_after_then_every_waiter_gets_the_frame(
    bench: QueueBench,
) -> None:
    clock = FakeClock()
    retry = RetrySettings(max_attempts=4, base_delay_s=0.05, max_delay_s=10.0, jitter=0.0)

    async def scenario() -> None:
        async with running_queue(bench, settings=fast_settings(retry=retry), clock=clock) as queue:
            bench.server.script(Reply.error(500, "the upstream model crashed"))
            first = asyncio.create_task(queue.enqueue_and_wait(bench.request(f(0))))
            failed_at = clock.now_ns
            await until(
                lambda: bench.is_at(f(0), "pending", attempts=1),
                what="the first attempt to be put back",
            )
            # The backoff after attempt 1 is the base delay (no jitter).
            assert bench.row(f(0)).next_attempt_at_ns == failed_at + 50_000_000
            # A waiter that joins during the wait gets the same final result.
            second = asyncio.create_task(
                queue.enqueue_and_wait(bench.request(f(0), provider=REMOTE_B))
            )
            await until(lambda: bench.row(f(0)).joined == 1, what="the second to join")

            clock.advance(0.049)
            await probe(queue, bench, f(10))
            assert (bench.row(f(0)).state, bench.row(f(0)).attempts) == ("pending", 1)

            bench.server.script(Reply.rate_limited("1"))
            clock.advance(0.001)
            limited_at = clock.now_ns
            await until(
                lambda: bench.is_at(f(0), "pending", attempts=2),
                what="the second attempt to be put back",
            )
            # Retry-After (1 s) is longer than the backoff (0.1 s): it wins.
            assert bench.row(f(0)).next_attempt_at_ns == limited_at + 1_000_000_000
            clock.advance(0.999)
            # The 429 paused its provider for everyone: work for another one still runs.
            assert bench.paused_providers(clock.now_ns) == [REMOTE]
            await probe(queue, bench, f(11), provider=REMOTE_B)
            assert (bench.row(f(0)).state, bench.row(f(0)).attempts) == ("pending", 2)

            clock.advance(0.001)
            a, b = await asyncio.wait_for(asyncio.gather(first, second), 5)
            assert a == b
            _, metadata = bench.frame(a)
            assert metadata.attempts == 3
            stats = await queue.stats()
            assert stats.retried == 2
            assert stats.completed == 3  # the request and the two probes

    run_scenario(scenario())
    assert bench.server_paths() == [f(0), f(10), f(0), f(11), f(0)]
    row = bench.row(f(0))
    assert (row.state, row.attempts) == ("done", 3)
    retrying = bench.events("provider_request_retrying")
    assert [(e["error_class"], e["attempt"]) for e in retrying] == [
        ("server_error", 1),
        ("rate_limited", 2),
    ]
    assert retrying[0]["delay_s"] == pytest.approx(0.05)
    assert float(retrying[1]["delay_s"]) >= 1.0  # type: ignore[arg-type]
    assert "provider_request_failed" not in bench.sink.types()


def test_retries_stop_after_max_attempts_with_the_last_error(bench: QueueBench) -> None:
    async def scenario() -> None:
        retry = RetrySettings(max_attempts=2, base_delay_s=0.01, jitter=0.0)
        async with running_queue(bench, settings=fast_settings(retry=retry)) as queue:
            bench.server.script(Reply.error(503, "busy"), Reply.error(502, "still busy"))
            with pytest.raises(RequestFailed) as caught:
                await asyncio.wait_for(queue.enqueue_and_wait(bench.request(f(0))), 5)
            assert caught.value.error_class == "server_error"
            assert caught.value.attempts == 2

    run_scenario(scenario())
    assert bench.server_paths() == [f(0), f(0)]
    assert bench.sink.types().count("provider_request_retrying") == 1
    assert bench.sink.types().count("provider_request_failed") == 1


def test_permanent_failure_is_not_retried_and_reaches_every_waiter(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            bench.server.script(
                Reply.error(401, "invalid credentials", error_type="authentication_error")
            )
            async with held(queue):
                waiters = [
                    asyncio.create_task(queue.enqueue_and_wait(bench.request(f(0)))),
                    asyncio.create_task(queue.enqueue_and_wait(bench.request(f(0)))),
                ]
                await until(
                    lambda: bench.is_at(f(0), "pending") and bench.row(f(0)).joined == 1,
                    what="the join",
                )
            outcomes = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 5)
            for outcome in outcomes:
                assert isinstance(outcome, RequestFailed)
                assert outcome.error_class == "auth"
                assert outcome.attempts == 1
            stats = await queue.stats()
            assert (stats.failed, stats.completed, stats.retried) == (1, 0, 0)

    run_scenario(scenario())
    assert bench.server_paths() == [f(0)]
    assert "provider_request_retrying" not in bench.sink.types()
    [failed] = bench.events("provider_request_failed")
    assert failed["error_class"] == "auth"
    assert failed["retryable"] is False
    assert bench.head_id(f(0)) is None


def test_full_queue_rejects_a_new_key_at_once_and_drops_nothing(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench, settings=fast_settings(max_live=3)) as queue:
            async with held(queue):
                for i in (0, 1, 2):
                    await queue.enqueue(bench.request(f(i)))
                with pytest.raises(QueueFull) as caught:
                    await asyncio.wait_for(queue.enqueue(bench.request(f(3))), 1)
                assert f(3) in caught.value.message
                # Joining live work adds nothing, so it is still accepted.
                joined = await queue.enqueue(bench.request(f(1)))
                assert joined.status is EnqueueStatus.DEDUPLICATED
                assert [(r.path, r.state) for r in bench.rows()] == [
                    (f(i), "pending") for i in (0, 1, 2)
                ]
            await queue.wait_for_completion(timeout_s=5)
            # Room again: the rejected request can now be added.
            later = await queue.enqueue(bench.request(f(3)))
            assert later.status is EnqueueStatus.ENQUEUED
            await queue.wait_for_completion(timeout_s=5)

    run_scenario(scenario())
    assert sorted(bench.server_paths()) == [f(0), f(1), f(2), f(3)]
    assert {r.state for r in bench.rows()} == {"done"}


# -- limits ---------------------------------------------------------------------------------


def test_agent_concurrency_limit_is_reached_and_never_exceeded(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each answer waits until three requests were in flight at once, then 50 ms.
    default = Reply.answer(delay_s=0.05, in_flight=3)
    with queue_bench(workspace, monkeypatch, default=default) as bench:

        async def scenario() -> None:
            limits = {AGENT: AgentLimits(max_concurrent=3)}
            async with running_queue(bench, limits=limits) as queue:
                requests = [bench.request(f(i)) for i in range(12)]
                frames = await asyncio.wait_for(
                    asyncio.gather(*(queue.enqueue_and_wait(r) for r in requests)), 10
                )
                assert len(set(frames)) == 12

        run_scenario(scenario())
        assert bench.server.max_in_flight == 3
        assert sorted(bench.server_paths()) == [f(i) for i in range(12)]


def test_agent_concurrency_limit_holds_across_two_queues_on_one_store(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = Reply.answer(delay_s=0.05, in_flight=2)
    with queue_bench(workspace, monkeypatch, default=default) as bench:

        async def scenario() -> None:
            limits = {AGENT: AgentLimits(max_concurrent=2)}
            async with (
                running_queue(bench, limits=limits) as one,
                running_queue(bench, limits=limits) as two,
            ):
                calls = [
                    (one if i % 2 else two).enqueue_and_wait(bench.request(f(i))) for i in range(8)
                ]
                await asyncio.wait_for(asyncio.gather(*calls), 10)

        run_scenario(scenario())
        assert bench.server.max_in_flight == 2
        assert len(bench.server_paths()) == 8


def test_agent_starts_are_spaced_by_the_minimum_interval(bench: QueueBench) -> None:
    clock = FakeClock()
    interval_ns = 1_000_000_000

    async def scenario() -> None:
        limits = {AGENT: AgentLimits(max_concurrent=10, min_interval_ns=interval_ns)}
        async with running_queue(bench, limits=limits, clock=clock) as queue:
            waiters = [
                asyncio.create_task(queue.enqueue_and_wait(bench.request(f(i)))) for i in range(3)
            ]
            await until(lambda: bench.is_at(f(0), "done"), what="the first start")
            assert [bench.row(f(i)).state for i in (1, 2)] == ["pending", "pending"]

            clock.advance(0.999)
            await probe(queue, bench, f(10))
            assert [bench.row(f(i)).attempts for i in (1, 2)] == [0, 0]

            clock.advance(0.001)
            await until(lambda: bench.is_at(f(1), "done"), what="the second start")
            await probe(queue, bench, f(11))
            assert bench.row(f(2)).attempts == 0

            clock.advance(0.999)
            await probe(queue, bench, f(12))
            assert bench.row(f(2)).attempts == 0

            clock.advance(0.001)
            await asyncio.wait_for(asyncio.gather(*waiters), 5)

    run_scenario(scenario())
    assert bench.server_paths() == [f(0), f(10), f(1), f(11), f(12), f(2)]


# -- stats and events --------------------------------------------------------------------------


def test_stats_count_outcomes_by_priority_and_agent(bench: QueueBench) -> None:
    async def scenario() -> None:
        # One worker: requests run one at a time, highest priority first, so the
        # scripted 500 goes to the first urgent request.
        async with running_queue(bench, settings=fast_settings(workers=1)) as queue:
            bench.server.script(Reply.error(500, "the upstream model crashed"))
            async with held(queue):
                await queue.enqueue(bench.request(f(0), priority=Priority.HIGH))
                joined = await queue.enqueue(bench.request(f(0), priority=Priority.URGENT))
                assert joined.status is EnqueueStatus.DEDUPLICATED
                await queue.enqueue(bench.request(f(4), priority=Priority.URGENT))
                await queue.enqueue(
                    bench.request(f(1), priority=Priority.LOW, provider=BAD_KEY_PROVIDER)
                )
                await queue.enqueue(bench.request(f(3), priority=Priority.LOW))
                await queue.enqueue(bench.request(f(2), agent_id=PROBE_AGENT))
                before = await queue.stats()
                assert (before.pending, before.processing, before.deduplicated) == (5, 0, 1)
                assert before.by_priority == {
                    "urgent": {"pending": 2},
                    "low": {"pending": 2},
                    "normal": {"pending": 1},
                }
                assert before.by_agent == {AGENT: {"pending": 4}, PROBE_AGENT: {"pending": 1}}
            await queue.wait_for_completion(timeout_s=5)
            after = await queue.stats()
            assert (after.pending, after.processing) == (0, 0)
            assert (after.completed, after.failed, after.cancelled) == (4, 1, 0)
            assert (after.deduplicated, after.retried) == (1, 1)
            assert after.by_priority == {
                "urgent": {"done": 2},
                "low": {"done": 1, "failed": 1},
                "normal": {"done": 1},
            }
            assert after.by_agent == {AGENT: {"done": 3, "failed": 1}, PROBE_AGENT: {"done": 1}}

    run_scenario(scenario())
    assert bench.server_paths()[0] == f(0)
    assert bench.row(f(0)).attempts == 2
    assert bench.row(f(1)).error_class == "auth"


def test_stats_show_live_pending_and_processing_work(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench) as queue:
            bench.server.script(Reply.answer(in_flight=2))
            await queue.enqueue(bench.request(f(0), priority=Priority.HIGH))
            await server_received(bench.server, 1)
            async with held(queue):
                await queue.enqueue(
                    bench.request(f(1), agent_id=PROBE_AGENT, priority=Priority.LOW)
                )
                live = await queue.stats()
                assert (live.pending, live.processing, live.completed) == (1, 1, 0)
                assert live.by_priority == {"high": {"processing": 1}, "low": {"pending": 1}}
                assert live.by_agent == {AGENT: {"processing": 1}, PROBE_AGENT: {"pending": 1}}
            await queue.wait_for_completion(timeout_s=5)
            done = await queue.stats()
            assert (done.pending, done.processing, done.completed) == (0, 0, 2)

    run_scenario(scenario())


def test_events_trace_a_request_without_content_prompts_or_keys(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    body_marker = "SAUCE_RECIPE_7f3a"
    note_marker = "FRAME_NOTE_9c2e"
    files: dict[str, bytes | str] = {"src/sauce.py": f'{body_marker} = "tangy"\n'}
    with queue_bench(workspace, monkeypatch, files=files) as bench:

        async def scenario() -> None:
            async with running_queue(bench) as queue:
                bench.server.script(
                    Reply.error(500, "the upstream model crashed"),
                    Reply.answer(f"{note_marker}: the sauce module holds one constant."),
                )
                frame_id = await asyncio.wait_for(
                    queue.enqueue_and_wait(bench.request("src/sauce.py")), 5
                )
                frame, _ = bench.frame(frame_id)
                assert note_marker in frame.content

        run_scenario(scenario())
        assert bench.server_paths() == ["src/sauce.py", "src/sauce.py"]
        request_id = bench.row("src/sauce.py").request_id
        traced = [(kind, data) for kind, data in bench.sink.events if kind != "queue_stats"]
        mine = [kind for kind, data in traced if data.get("request_id") == request_id]
        assert len(mine) == len(traced)
        assert any(kind == "queue_stats" for kind, _ in bench.sink.events)
        assert is_subsequence(
            [
                "request_enqueued",
                "request_processing",
                "provider_request_sent",
                "provider_request_retrying",
                "request_processing",
                "provider_request_sent",
                "provider_response_received",
            ],
            mine,
        ), mine
        for kind, data in traced:
            assert data["path"] == "src/sauce.py", kind
        text = event_text(bench)
        sent = [m["content"] for r in bench.server.requests for m in r.body["messages"]]
        for secret in (body_marker, note_marker, API_KEY, BAD_API_KEY, *sent):
            assert secret not in text


def test_an_agent_at_its_limit_does_not_hold_back_another_agents_work(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many more pending requests of one agent than the claim looks at in one go.
    files: dict[str, bytes | str] = {f"src/m{i:03d}.py": f"N = {i}\n" for i in range(230)}
    with queue_bench(workspace, monkeypatch, files=files) as bench:

        async def scenario() -> None:
            limits = {AGENT: AgentLimits(max_concurrent=1)}
            async with running_queue(bench, limits=limits) as queue:
                # The first docs-writer answer waits until a second request arrives.
                bench.server.script(Reply.answer(in_flight=2))
                async with held(queue):
                    for i in range(225):
                        await queue.enqueue(bench.request(f"src/m{i:03d}.py"))
                await server_received(bench.server, 1)
                # The probe agent is idle: its request must start while the first
                # docs-writer request is still held (the client gives up after 2 s).
                other = bench.request("src/m229.py", agent_id=PROBE_AGENT)
                await asyncio.wait_for(queue.enqueue_and_wait(other), 1.5)

        run_scenario(scenario())
        # The probe's call was the second: it ran beside the held docs-writer call.
        assert bench.server_paths()[:2] == ["src/m000.py", "src/m229.py"]
        assert bench.rows("src/m000.py")[0].attempts == 1


def test_a_queue_that_stops_finishes_the_call_it_sent_for_another_waiter(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two queues (two owners) on one store; whichever claims the request is
    # stopped while its call is in flight, as a process that finished its own work.
    with queue_bench(workspace, monkeypatch) as bench:
        bench.server.script(Reply.answer("the only answer", delay_s=0.5))

        async def scenario() -> None:
            async with running_queue(bench) as first, running_queue(bench) as second:
                waiting = asyncio.create_task(first.enqueue_and_wait(bench.request("src/f03.py")))
                await server_received(bench.server, 1)
                owners = {first.owner: first, second.owner: second}
                holder = owners[bench.query_owner("src/f03.py")]

                await holder.stop()

                assert bench.row("src/f03.py").state == "done"
                frame_id = await asyncio.wait_for(waiting, 5)
                assert frame_id == bench.row("src/f03.py").frame_id

        run_scenario(scenario())
        assert bench.server_paths() == ["src/f03.py"]
        frame, _ = bench.frame(bench.row("src/f03.py").frame_id or "")
        assert frame.content.startswith("the only answer")


def test_a_batch_is_stored_all_or_nothing(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench, settings=fast_settings(max_live=3)) as queue:
            async with held(queue):
                await queue.enqueue(bench.request(f(0)))
                # Two new keys do not fit beside the live one and a third: none is stored.
                with pytest.raises(QueueFull) as caught:
                    await queue.enqueue_batch([bench.request(f(i)) for i in (1, 2, 3)])
                assert "3 requests were not added" in caught.value.message
                assert [r.path for r in bench.rows()] == [f(0)]
                assert bench.events("request_enqueued") == [bench.events("request_enqueued")[0]]
                # A batch that fits is one write, each result as `enqueue` gives it.
                results = await queue.enqueue_batch(
                    [bench.request(f(0)), bench.request(f(1)), bench.request(f(1))]
                )
                assert [r.status for r in results] == [
                    EnqueueStatus.DEDUPLICATED,
                    EnqueueStatus.ENQUEUED,
                    EnqueueStatus.DEDUPLICATED,
                ]
                assert results[1].request_id == results[2].request_id
                assert [(r.path, r.joined) for r in bench.rows()] == [(f(0), 1), (f(1), 1)]
            await queue.wait_for_completion(timeout_s=5)

    run_scenario(scenario())
    assert sorted(bench.server_paths()) == [f(0), f(1)]


def test_an_idle_worker_takes_no_write_lock(bench: QueueBench) -> None:
    """With nothing to do, the worker claims nothing until something changes: a claim
    every poll would meet a lock held elsewhere and report the store busy."""

    async def scenario() -> None:
        async with running_queue(bench, busy_timeout_ms=50) as queue:
            await queue.enqueue_and_wait(bench.request(f(0)))
            with bench.write_lock():
                # Thirty polls of the idle worker pass under another process's lock.
                await asyncio.sleep(30 * fast_settings().poll_s)
            assert bench.events("queue_error") == [], bench.sink.types()
            # Still serving: new work is claimed at once.
            await asyncio.wait_for(queue.enqueue_and_wait(bench.request(f(1))), 5)

    run_scenario(scenario())
    assert bench.server_paths() == [f(0), f(1)]


def test_a_busy_store_at_enqueue_is_a_store_busy_error_with_a_hint(bench: QueueBench) -> None:
    async def scenario() -> None:
        async with running_queue(bench, busy_timeout_ms=50) as queue:
            with bench.write_lock(), pytest.raises(StoreBusy) as caught:
                await queue.enqueue(bench.request(f(0)))
            assert "locked by another process" in caught.value.message
            assert caught.value.hint and "let it finish" in caught.value.hint
            assert bench.rows() == []  # nothing half-stored
            # Once the lock is gone, the same submission goes through.
            await asyncio.wait_for(queue.enqueue_and_wait(bench.request(f(0))), 5)

    run_scenario(scenario())
    assert bench.server_paths() == [f(0)]
