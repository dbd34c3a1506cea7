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


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrySettings:
    """How failed attempts are retried."""

    max_attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    jitter: float = 0.25  # up to this fraction of the delay is added at random


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryDecision:
    """Whether to try again, and after how long."""

    retry: bool
    delay_s: float = 0.0
    reason: str = ""


def decide_retry(
    *,
    attempt: int,
    retryable: bool,
    retry_after_s: float | None,
    settings: RetrySettings,
    rng: random.Random,
) -> RetryDecision:
    """The decision after attempt number `attempt` (from 1) failed.

    Permanent errors never retry. A retryable one waits an exponential backoff
    with jitter, or the provider's Retry-After if that is longer, up to the
    cap, until `max_attempts` attempts have been made.
    """
    if not retryable:
        return RetryDecision(retry=False, reason="permanent error")
    if attempt >= settings.max_attempts:
        return RetryDecision(retry=False, reason=f"gave up after {attempt} attempts")
    backoff = min(settings.max_delay_s, settings.base_delay_s * 2 ** (attempt - 1))
    backoff += backoff * settings.jitter * rng.random()
    delay = max(backoff, retry_after_s or 0.0)
    return RetryDecision(
        retry=True,
        delay_s=min(delay, max(settings.max_delay_s, retry_after_s or 0.0)),
        reason="retry-after" if retry_after_s and retry_after_s >= backoff else "backoff",
    )


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
