"""The queue's pure scheduling decisions: retry after a failure, an agent's start interval,
and which agents may not start a call now.

Fixed inputs and a seeded random generator; the expected jitter is computed
from a generator with the same seed.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merkle.context.queue.policy import (
    AgentLimits,
    RetrySettings,
    blocked_agents,
    decide_retry,
    min_interval_s,
)
from merkle.store import AgentLoad

pytestmark = pytest.mark.timeout(10)

NO_JITTER = RetrySettings(max_attempts=5, base_delay_s=1.0, max_delay_s=60.0, jitter=0.0)


def decide(
    attempt: int,
    *,
    retryable: bool = True,
    retry_after_s: float | None = None,
    elapsed_s: float = 0.0,
    settings: RetrySettings = NO_JITTER,
    seed: int = 0,
) -> tuple[bool, float, str]:
    decision = decide_retry(
        attempt=attempt,
        retryable=retryable,
        retry_after_s=retry_after_s,
        elapsed_s=elapsed_s,
        settings=settings,
        rng=random.Random(seed),
    )
    return decision.retry, decision.delay_s, decision.reason


@pytest.mark.parametrize("attempt", [1, 2, 4])
def test_permanent_error_is_never_retried(attempt: int) -> None:
    retry, delay, reason = decide(attempt, retryable=False, retry_after_s=3.0)
    assert (retry, delay) == (False, 0.0)
    assert reason == "permanent error"


def test_backoff_doubles_from_the_base_delay() -> None:
    delays = [decide(attempt)[1] for attempt in (1, 2, 3, 4)]
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert {decide(attempt)[2] for attempt in (1, 2, 3, 4)} == {"backoff"}


def test_last_attempt_is_not_retried() -> None:
    settings = RetrySettings(max_attempts=3, base_delay_s=1.0, jitter=0.0)
    assert decide(2, settings=settings)[0] is True
    retry, _, reason = decide(3, settings=settings)
    assert retry is False
    assert reason == "gave up after 3 attempts"


def test_backoff_is_capped_at_the_maximum_delay() -> None:
    settings = RetrySettings(max_attempts=20, base_delay_s=1.0, max_delay_s=10.0, jitter=0.0)
    assert decide(4, settings=settings)[1] == 8.0
    assert decide(5, settings=settings)[1] == 10.0
    assert decide(15, settings=settings)[1] == 10.0


def test_jitter_takes_up_to_its_fraction_off_from_the_seeded_generator() -> None:
    settings = RetrySettings(max_attempts=5, base_delay_s=2.0, max_delay_s=60.0, jitter=0.25)
    expected = 4.0 - 4.0 * 0.25 * random.Random(7).random()
    _, delay, _ = decide(2, settings=settings, seed=7)
    assert delay == pytest.approx(expected)
    assert 3.0 <= delay <= 4.0
    assert decide(2, settings=settings, seed=7)[1] == delay
    assert decide(2, settings=settings, seed=8)[1] != delay


def test_the_default_is_full_jitter_spread_over_the_whole_backoff() -> None:
    # Processes that failed together must not come back together.
    settings = RetrySettings(base_delay_s=1.0, max_delay_s=60.0)
    delays = [decide(5, settings=settings, seed=seed)[1] for seed in range(200)]
    assert 0.0 <= min(delays) < 2.0 and 14.0 < max(delays) <= 16.0


def test_jitter_never_pushes_past_the_maximum_delay() -> None:
    settings = RetrySettings(max_attempts=20, base_delay_s=1.0, max_delay_s=10.0)
    delays = [decide(8, settings=settings, seed=seed)[1] for seed in range(20)]
    assert max(delays) <= 10.0


def test_defaults_retry_a_dozen_times_within_fifteen_minutes() -> None:
    settings = RetrySettings()
    assert (settings.max_attempts, settings.retry_budget_s) == (12, 900.0)
    assert decide(11, settings=settings)[0] is True
    assert decide(12, settings=settings)[:1] == (False,)


def test_a_retry_that_would_start_past_the_budget_is_not_made() -> None:
    settings = RetrySettings(max_attempts=50, retry_budget_s=100.0, jitter=0.0)
    assert decide(3, elapsed_s=95.0, settings=settings)[0] is True  # 4 s: at 99 s
    retry, _, reason = decide(4, elapsed_s=95.0, settings=settings)  # 8 s: past 100 s
    assert retry is False
    assert reason == "gave up after 4 attempts in 95 s: the retry budget is 100 s"


def test_a_retry_after_over_the_cap_is_a_quota_that_fails_the_node_at_once() -> None:
    decision = decide_retry(
        attempt=1,
        retryable=True,
        retry_after_s=86_400.0,
        elapsed_s=0.0,
        settings=RetrySettings(),
        rng=random.Random(0),
    )
    assert (decision.retry, decision.error_class) == (False, "quota_exhausted")
    assert decision.reason == ("the provider asked to wait 86,400 s, over max_retry_after_s = 300")
    assert decide(1, retry_after_s=300.0, settings=RetrySettings())[:2] == (True, 300.0)


def test_retry_after_longer_than_the_backoff_wins() -> None:
    retry, delay, reason = decide(1, retry_after_s=5.0)
    assert (retry, delay, reason) == (True, 5.0, "retry-after")


def test_retry_after_shorter_than_the_backoff_keeps_the_backoff() -> None:
    retry, delay, reason = decide(3, retry_after_s=0.5)
    assert (retry, delay, reason) == (True, 4.0, "backoff")


def test_retry_after_beyond_the_maximum_delay_is_still_honoured() -> None:
    # Trying again before the provider asked only earns another 429.
    settings = RetrySettings(max_attempts=4, base_delay_s=1.0, max_delay_s=10.0, jitter=0.0)
    retry, delay, reason = decide(1, retry_after_s=90.0, settings=settings)
    assert (retry, delay, reason) == (True, 90.0, "retry-after")


def test_retry_after_does_not_bring_back_a_last_attempt() -> None:
    settings = RetrySettings(max_attempts=2, base_delay_s=1.0, jitter=0.0)
    assert decide(2, retry_after_s=1.0, settings=settings)[0] is False


@given(
    attempt=st.integers(min_value=1, max_value=30),
    retry_after_s=st.none() | st.floats(min_value=0.0, max_value=600.0),
    base_delay_s=st.floats(min_value=0.001, max_value=30.0),
    max_delay_s=st.floats(min_value=0.001, max_value=120.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_retry_waits_for_retry_after_and_at_most_the_cap_or_retry_after(
    attempt: int,
    retry_after_s: float | None,
    base_delay_s: float,
    max_delay_s: float,
    jitter: float,
    seed: int,
) -> None:
    settings = RetrySettings(
        max_attempts=31,
        retry_budget_s=1e9,
        max_retry_after_s=600.0,
        base_delay_s=base_delay_s,
        max_delay_s=max_delay_s,
        jitter=jitter,
    )
    retry, delay, _ = decide(attempt, retry_after_s=retry_after_s, settings=settings, seed=seed)
    assert retry is True
    asked = retry_after_s or 0.0
    backoff = min(max_delay_s, base_delay_s * 2 ** (attempt - 1))
    assert delay >= asked
    assert delay >= backoff * (1 - jitter) - 1e-9
    assert delay <= max(backoff, asked)


@pytest.mark.parametrize(
    ("requests_per_minute", "interval_s", "expected"),
    [
        (None, None, 0.0),
        (60.0, None, 1.0),
        (600.0, None, 0.1),
        (None, 0.25, 0.25),
        (600.0, 0.25, 0.25),  # the stricter limit wins
        (30.0, 0.25, 2.0),
    ],
)
def test_min_interval_is_the_stricter_of_rate_and_interval(
    requests_per_minute: float | None, interval_s: float | None, expected: float
) -> None:
    found = min_interval_s(requests_per_minute=requests_per_minute, min_interval_s=interval_s)
    assert found == pytest.approx(expected)


# -- per-agent blocking ------------------------------------------------------------------

NOW_NS = 1_000_000_000_000
DEFAULT = AgentLimits(max_concurrent=2)


def blocked(*load: AgentLoad, limits: dict[str, AgentLimits] | None = None) -> list[str]:
    return blocked_agents(load, limits=limits or {}, default=DEFAULT, now_ns=NOW_NS)


def test_an_agent_at_its_concurrency_limit_is_blocked_below_it_is_not() -> None:
    assert blocked(AgentLoad("a", 2, None), AgentLoad("b", 1, None)) == ["a"]


def test_an_agent_own_limit_overrides_the_default() -> None:
    limits = {"a": AgentLimits(max_concurrent=5), "b": AgentLimits(max_concurrent=1)}
    assert blocked(AgentLoad("a", 2, None), AgentLoad("b", 1, None), limits=limits) == ["b"]


def test_an_agent_inside_its_minimum_interval_is_blocked_until_it_ends() -> None:
    limits = {"a": AgentLimits(max_concurrent=9, min_interval_ns=100)}
    assert blocked(AgentLoad("a", 0, NOW_NS - 99), limits=limits) == ["a"]
    assert blocked(AgentLoad("a", 0, NOW_NS - 100), limits=limits) == []


def test_an_agent_that_never_started_a_call_is_free() -> None:
    limits = {"a": AgentLimits(max_concurrent=1, min_interval_ns=10**12)}
    assert blocked(AgentLoad("a", 0, None), limits=limits) == []


def test_the_blocked_agents_come_sorted_whatever_the_load_order() -> None:
    load = [AgentLoad(name, 3, None) for name in ("c", "a", "b")]
    assert blocked(*load) == ["a", "b", "c"]
