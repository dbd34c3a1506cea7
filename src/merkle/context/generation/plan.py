"""The GenerationPlan: the contract between Context Generate and the orchestrator.

A plan is ordered levels of queue-ready items; the orchestrator runs level 0,
then level 1, and so on, and never reorders. Context Generate builds plans;
`validate_plan` checks one before anything is enqueued.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from merkle.context.queue import Priority
from merkle.errors import UsageError
from merkle.metadata import IDENTIFIER
from merkle.store import FrameKey, NodeType


class FailurePolicy(Enum):
    """What the orchestrator does when an item fails for good."""

    STOP_ON_LEVEL_FAILURE = "stop-on-level-failure"
    CONTINUE = "continue"
    FAIL_IMMEDIATELY = "fail-immediately"


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationItem:
    """One node to generate a frame for, with everything the queue needs."""

    key: FrameKey
    path: str
    node_type: NodeType
    provider_name: str
    # The item replaces the key's head (a stale one) even though the plan does not force.
    force: bool = False

    @property
    def node_id(self) -> str:
        """The node the frame is about."""
        return self.key.node_id


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationPlan:
    """What to generate and in which order, and how to treat failures.

    `levels[0]` runs first; items of one level run concurrently. `target_path`,
    `total_nodes` and `total_levels` are for reporting. With `force`, items are
    generated even when their key has a head.
    """

    plan_id: str
    source: str
    session_id: str | None
    levels: tuple[tuple[GenerationItem, ...], ...]
    priority: Priority
    failure_policy: FailurePolicy
    target_path: str
    total_nodes: int
    total_levels: int
    force: bool = False


class PlanInvalid(UsageError):
    """A plan whose structure or fields are wrong; nothing was enqueued."""


def validate_plan(plan: GenerationPlan) -> None:
    """Check a plan's structure and fields; raises `PlanInvalid` naming the first problem."""
    problems: list[str] = []
    if not plan.plan_id:
        problems.append("plan_id is empty")
    if plan.total_levels != len(plan.levels):
        problems.append(f"total_levels is {plan.total_levels}, the plan has {len(plan.levels)}")
    count = sum(len(level) for level in plan.levels)
    if plan.total_nodes != count:
        problems.append(f"total_nodes is {plan.total_nodes}, the levels hold {count}")
    seen: set[FrameKey] = set()
    for index, level in enumerate(plan.levels):
        if not level:
            problems.append(f"level {index} is empty")
        for item in level:
            problems += _item_problems(index, item)
            if item.key in seen:
                problems.append(f"level {index}: {item.path} appears twice in the plan")
            seen.add(item.key)
    if problems:
        raise PlanInvalid(
            f"invalid generation plan {plan.plan_id or '(no id)'}: {problems[0]}"
            + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
            hint="this is a bug in whatever built the plan",
        )


def _item_problems(index: int, item: GenerationItem) -> list[str]:
    problems = []
    if len(item.node_id) != 64:
        problems.append(f"level {index}: {item.path or '?'} has no valid node_id")
    if not item.path:
        problems.append(f"level {index}: an item has no path")
    names = (
        ("agent_id", item.key.agent_id),
        ("provider_name", item.provider_name),
        ("frame_type", item.key.frame_type),
    )
    for name, value in names:
        if not IDENTIFIER.fullmatch(value):
            problems.append(f"level {index}: {item.path}: {name} is not a valid name")
    return problems
