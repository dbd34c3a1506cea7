"""Pure scheduling decisions: when to retry a failed attempt, and which agents may start.

Each is a function of its inputs and a clock reading, so tests drive them
with a fake clock and a seeded random generator.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from merkle.store import AgentLoad


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLimits:
    """How many calls an agent may have in flight, and the least time between starts."""

    max_concurrent: int
    min_interval_ns: int = 0


RATE_LIMITED = "rate_limited"
"""The failure class of a 429: the provider asks every caller to slow down."""
QUOTA_EXHAUSTED = "quota_exhausted"
"""The failure class of a node whose provider asked to wait longer than allowed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrySettings:
    """How failed attempts are retried: until `max_attempts` attempts are made or
    `retry_budget_s` has passed since the first, whichever comes first."""

    max_attempts: int = 12
    retry_budget_s: float = 900.0
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_retry_after_s: float = 300.0
    # Up to this fraction of the backoff is taken off at random: 1.0 is full
    # jitter, so processes that failed together do not retry together.
    jitter: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryDecision:
    """Whether to try again, and after how long; `error_class` replaces the failure's
    own when the decision changes what the failure is (a quota, not a rate limit)."""

    retry: bool
    delay_s: float = 0.0
    reason: str = ""
    error_class: str | None = None


def decide_retry(
    *,
    attempt: int,
    retryable: bool,
    retry_after_s: float | None,
    elapsed_s: float,
    settings: RetrySettings,
    rng: random.Random,
) -> RetryDecision:
    """The decision after attempt number `attempt` (from 1) failed, `elapsed_s` after
    the first attempt started.

    Permanent errors never retry. A retryable one waits an exponential backoff
    less its jitter, or the provider's Retry-After if that is longer.
    A Retry-After over `max_retry_after_s` is a quota, not a pause: the node
    fails at once. So does a retry that would start past the budget.
    """
    if not retryable:
        return RetryDecision(retry=False, reason="permanent error")
    if retry_after_s is not None and retry_after_s > settings.max_retry_after_s:
        return RetryDecision(
            retry=False,
            reason=f"the provider asked to wait {retry_after_s:,.0f} s, over"
            f" max_retry_after_s = {settings.max_retry_after_s:,.0f}",
            error_class=QUOTA_EXHAUSTED,
        )
    if attempt >= settings.max_attempts:
        return RetryDecision(retry=False, reason=f"gave up after {attempt} attempts")
    backoff = min(settings.max_delay_s, settings.base_delay_s * 2 ** (attempt - 1))
    delay = max(backoff * (1.0 - settings.jitter * rng.random()), retry_after_s or 0.0)
    if elapsed_s + delay > settings.retry_budget_s:
        return RetryDecision(
            retry=False,
            reason=f"gave up after {attempt} attempts in {elapsed_s:,.0f} s: the retry"
            f" budget is {settings.retry_budget_s:,.0f} s",
        )
    reason = "retry-after" if retry_after_s and retry_after_s >= delay else "backoff"
    return RetryDecision(retry=True, delay_s=delay, reason=reason)


def min_interval_s(*, requests_per_minute: float | None, min_interval_s: float | None) -> float:
    """The least time between two starts for one agent: the stricter of the two limits."""
    from_rate = 60.0 / requests_per_minute if requests_per_minute else 0.0
    return max(from_rate, min_interval_s or 0.0)


def blocked_agents(
    load: Iterable[AgentLoad],
    *,
    limits: Mapping[str, AgentLimits],
    default: AgentLimits,
    now_ns: int,
) -> list[str]:
    """The agents that may not start a call now: at their concurrency limit (counted
    over every process), or inside their minimum interval since the last start."""
    blocked = []
    for agent in load:
        agent_limits = limits.get(agent.agent_id, default)
        full = agent.in_flight >= agent_limits.max_concurrent
        last = agent.last_start_ns
        too_soon = last is not None and now_ns < last + agent_limits.min_interval_ns
        if full or too_soon:
            blocked.append(agent.agent_id)
    return sorted(blocked)
