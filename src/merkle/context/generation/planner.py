"""Context Generate, the planner: resolve the target, collect its subtree, order it,
build the plan.

This layer owns the tree policy the orchestrator knows nothing about: which
nodes (the target and, recursively, its descendants), in which order (levels
by depth, deepest first, so every directory comes after its children), which
to skip (a key with a head, unless forced), and, for a single directory,
whether its children are ready (every descendant has a frame).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from merkle.context.api import ContextApi, metadata_of
from merkle.context.generation.plan import (
    FailurePolicy,
    GenerationItem,
    GenerationPlan,
    validate_plan,
)
from merkle.context.queue import EventSink, NullSink, Priority
from merkle.errors import UsageError
from merkle.store import Frame, FrameKey, NodeRecord, NodeType, StorageBackend
from merkle.tree.paths import ROOT, canonicalise, depth_of


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateOptions:
    """What the user asked for. At most one of `path` and `node`; neither means the root."""

    path: str | None = None
    node: str | None = None
    agent_id: str
    provider_name: str
    frame_type: str
    force: bool = False
    recursive: bool = True
    failure_policy: FailurePolicy = FailurePolicy.STOP_ON_LEVEL_FAILURE
    priority: Priority = Priority.URGENT
    session_id: str | None = None
    source: str = "context generate"
    # Heads written by this provider count as missing (an upgrade from `local`, say).
    replace_provider: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOutcome:
    """The plan (None when there is nothing to do) and the nodes skipped for their heads."""

    target: NodeRecord
    plan: GenerationPlan | None
    skipped: tuple[str, ...] = field(default_factory=tuple)


class DescendantsNotReady(UsageError):
    """A single directory was asked for while some descendants have no frame."""

    def __init__(self, path: str, missing: list[str]) -> None:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        super().__init__(
            f"the directory {path}: {len(missing)} of its descendants have no frame yet: {shown}"
            if len(missing) > 1
            else f"the directory {path}: its descendant {shown} has no frame yet",
            hint=f"generate them first (`merkle context generate {path}`), or pass --force"
            " to generate this directory anyway",
        )
        self.missing = missing


class ContextGenerate:
    """Builds generation plans from the stored tree and frames."""

    def __init__(
        self, store: StorageBackend, *, workspace_root: Path, sink: EventSink | None = None
    ) -> None:
        self._nodes = store.nodes
        self._api = ContextApi(store)
        self._root = workspace_root
        self._sink = sink or NullSink()

    def resolve(self, options: GenerateOptions, *, cwd: Path) -> NodeRecord:
        """The target node: `--node`, else `PATH`, else the workspace root."""
        if options.path is not None and options.node is not None:
            raise UsageError("give PATH or --node, not both", hint="see --help")
        if options.node is not None:
            return self._api.node(options.node)
        path = ROOT if options.path is None else canonicalise(self._root, options.path, cwd=cwd)
        return self._api.node_at(path)

    def subtree(self, target: NodeRecord) -> list[NodeRecord]:
        """The target and every descendant, each once (a cycle or a repeat is cut)."""
        found: list[NodeRecord] = []
        seen: set[str] = set()
        stack = [target]
        while stack:
            record = stack.pop()
            if record.node_id in seen:
                continue
            seen.add(record.node_id)
            found.append(record)
            for _, child_id in reversed(record.children):
                child = self._nodes.get(child_id)
                if child is not None and child.node_id not in seen:
                    stack.append(child)
        return found

    def plan(self, options: GenerateOptions, *, cwd: Path) -> PlanOutcome:
        """The plan for `options`; raises before anything runs if it cannot be built."""
        target = self.resolve(options, cwd=cwd)
        if options.recursive:
            nodes = self.subtree(target)
        else:
            if target.node_type is NodeType.DIRECTORY and not options.force:
                self._check_descendants(target, options)
            nodes = [target]
        todo, skipped, replaced = self._filter_heads(nodes, options)
        levels = _levels(todo, options, replaced)
        if not levels:
            self._sink.emit(
                "plan_constructed",
                {"plan_id": None, "target_path": target.path, "total_nodes": 0,
                 "total_levels": 0, "skipped": len(skipped)},
            )  # fmt: skip
            return PlanOutcome(target=target, plan=None, skipped=tuple(skipped))
        plan = GenerationPlan(
            plan_id=uuid.uuid4().hex,
            source=f"{options.source} {target.path}",
            session_id=options.session_id,
            levels=levels,
            priority=options.priority,
            failure_policy=options.failure_policy,
            target_path=target.path,
            total_nodes=sum(len(level) for level in levels),
            total_levels=len(levels),
            force=options.force,
        )
        validate_plan(plan)
        self._sink.emit(
            "plan_constructed",
            {"plan_id": plan.plan_id, "target_path": target.path, "total_nodes": plan.total_nodes,
             "total_levels": plan.total_levels, "skipped": len(skipped)},
        )  # fmt: skip
        return PlanOutcome(target=target, plan=plan, skipped=tuple(skipped))

    def _filter_heads(
        self, nodes: list[NodeRecord], options: GenerateOptions
    ) -> tuple[list[NodeRecord], list[str], set[str]]:
        """The nodes to generate, the paths skipped for their fresh heads, and the node
        ids whose head is replaced (stale, or from the provider being replaced).

        Freshness climbs: a node that is generated changes what its directory was
        written from, so every ancestor within `nodes` is generated after it.
        """
        if options.force:
            return nodes, [], set()
        wanted: set[str] = set()
        replaced: set[str] = set()
        for record in nodes:
            frame = self._api.head(FrameKey(record.node_id, options.agent_id, options.frame_type))
            if frame is None:
                wanted.add(record.node_id)
            elif self._replaces(frame, record, options):
                wanted.add(record.node_id)
                replaced.add(record.node_id)
        parents = {child: record for record in nodes for _, child in record.children}
        for node_id in list(wanted):
            parent = parents.get(node_id)
            while parent is not None and parent.node_id not in wanted:
                wanted.add(parent.node_id)
                replaced.add(parent.node_id)  # it has a head: nodes without one are wanted
                parent = parents.get(parent.node_id)
        todo = [record for record in nodes if record.node_id in wanted]
        skipped = [record.path for record in nodes if record.node_id not in wanted]
        for path in skipped:
            self._sink.emit("node_skipped", {"path": path, "reason": "head exists"})
        return todo, skipped, replaced

    def _replaces(self, frame: Frame, record: NodeRecord, options: GenerateOptions) -> bool:
        """Whether the head `frame` of `record` is to be written again: stale, or made by
        the provider being replaced."""
        replacing = options.replace_provider
        if replacing is not None and metadata_of(frame).provider == replacing:
            return True
        return self._api.stale_reason(record, frame) is not None

    def _check_descendants(self, target: NodeRecord, options: GenerateOptions) -> None:
        self._sink.emit("descendant_check_started", {"path": target.path})
        missing = [
            record.path
            for record in self.subtree(target)[1:]
            if self._api.head(FrameKey(record.node_id, options.agent_id, options.frame_type))
            is None
        ]
        if missing:
            self._sink.emit(
                "descendant_check_failed", {"path": target.path, "missing": len(missing)}
            )
            raise DescendantsNotReady(target.path, sorted(missing))
        self._sink.emit("descendant_check_passed", {"path": target.path})


def _levels(
    nodes: list[NodeRecord], options: GenerateOptions, replaced: set[str]
) -> tuple[tuple[GenerationItem, ...], ...]:
    """Group by depth, deepest first; within a level, in path order."""
    by_depth: defaultdict[int, list[GenerationItem]] = defaultdict(list)
    for record in nodes:
        by_depth[depth_of(record.path)].append(
            GenerationItem(
                key=FrameKey(record.node_id, options.agent_id, options.frame_type),
                path=record.path,
                node_type=record.node_type,
                provider_name=options.provider_name,
                force=record.node_id in replaced,
            )
        )
    return tuple(
        tuple(sorted(by_depth[depth], key=lambda item: item.path))
        for depth in sorted(by_depth, reverse=True)
    )
