"""Context Generate: resolving the target, the subtree, levels, head filtering, the plan.

Every plan is built from a real scanned workspace and its real store; heads
are written through `ContextApi.put_frame`, the one write boundary. The last
part checks `validate_plan` on plans broken one field at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from merkle.context.api import ContextApi, FrameDraft
from merkle.context.generation.plan import (
    FailurePolicy,
    GenerationItem,
    GenerationPlan,
    PlanInvalid,
    validate_plan,
)
from merkle.context.generation.planner import (
    ContextGenerate,
    DescendantsNotReady,
    GenerateOptions,
    PlanOutcome,
)
from merkle.context.queue import ListSink, Priority
from merkle.errors import NodeNotFound, PathOutsideWorkspace, UsageError
from merkle.metadata import Source, build_metadata
from merkle.store import FrameKey, NodeRecord, NodeType, StorageBackend
from merkle.tree.paths import depth_of
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import backend, scan

pytestmark = pytest.mark.timeout(10)

AGENT = "writer"
OTHER_AGENT = "reviewer"
PROVIDER = "local"
FRAME_TYPE = "context"
OTHER_FRAME_TYPE = "summary"

FILES: dict[str, bytes | str] = {
    "a.txt": "alpha\n",
    "docs/readme.md": "# Docs\n",
    "src/b.py": "b = 1\n",
    "src/lib/c.py": "c = 3\n",
    "src/lib/d.py": "d = 4\n",
}
# Every path of the scanned tree, by depth (the root is ".").
TREE = [
    ".",
    "a.txt",
    "docs",
    "docs/readme.md",
    "src",
    "src/b.py",
    "src/lib",
    "src/lib/c.py",
    "src/lib/d.py",
]
LEVELS = [
    ["src/lib/c.py", "src/lib/d.py"],
    ["docs/readme.md", "src/b.py", "src/lib"],
    ["a.txt", "docs", "src"],
    ["."],
]


@dataclass
class Env:
    workspace: Workspace
    store: StorageBackend
    sink: ListSink
    generate: ContextGenerate

    @property
    def root(self) -> Path:
        return Path(self.workspace.root)

    def record(self, path: str) -> NodeRecord:
        return ContextApi(self.store).node_at(path)

    def node_id(self, path: str) -> str:
        return self.store.nodes.tree_paths()[path]

    def put_head(self, path: str, *, agent_id: str = AGENT, frame_type: str = FRAME_TYPE) -> None:
        """Give `path` a head frame for `(agent_id, frame_type)`."""
        metadata = build_metadata(agent_id=agent_id, frame_type=frame_type, source=Source.MANUAL)
        ContextApi(self.store).put_frame(
            FrameDraft(
                key=FrameKey(self.node_id(path), agent_id, frame_type),
                content=f"About {path}.",
                metadata=metadata,
            )
        )

    def plan(self, *, cwd: Path | None = None, **changes: Any) -> PlanOutcome:
        return self.generate.plan(options(**changes), cwd=cwd or self.root)

    def resolve(self, *, cwd: Path | None = None, **changes: Any) -> NodeRecord:
        return self.generate.resolve(options(**changes), cwd=cwd or self.root)

    def events(self, event_type: str) -> list[dict[str, object]]:
        return [data for kind, data in self.sink.events if kind == event_type]


def options(**changes: Any) -> GenerateOptions:
    fields: dict[str, Any] = {
        "agent_id": AGENT,
        "provider_name": PROVIDER,
        "frame_type": FRAME_TYPE,
    }
    return GenerateOptions(**{**fields, **changes})


def leaf_to_trunk(paths: Iterable[str]) -> list[str]:
    """`paths` in the order generation writes them: every child before its directory."""
    return sorted(paths, key=lambda path: (-depth_of(path), path))


def paths_of(plan: GenerationPlan | None) -> list[list[str]]:
    assert plan is not None
    return [[item.path for item in level] for level in plan.levels]


@pytest.fixture
def env(workspace: Workspace) -> Iterator[Env]:
    write_tree(workspace.root, FILES)
    scan(workspace)
    sink = ListSink()
    with backend(workspace) as store:
        generate = ContextGenerate(store, workspace_root=Path(workspace.root), sink=sink)
        yield Env(workspace, store, sink, generate)


# -- resolving the target --------------------------------------------------------------


def test_no_path_and_no_node_resolves_to_the_root(env: Env) -> None:
    record = env.resolve()
    assert (record.path, record.node_type) == (".", NodeType.DIRECTORY)
    assert record.node_id == env.node_id(".")


@pytest.mark.parametrize(
    ("path", "cwd", "expected"),
    [
        ("src/lib", ".", "src/lib"),
        ("lib/c.py", "src", "src/lib/c.py"),
        ("..", "src/lib", "src"),
        (".", "docs", "docs"),
        ("./src/../a.txt", ".", "a.txt"),
    ],
)
def test_path_resolves_relative_to_the_working_directory(
    env: Env, path: str, cwd: str, expected: str
) -> None:
    record = env.resolve(path=path, cwd=env.root / cwd)
    assert record.path == expected
    assert record.node_id == env.node_id(expected)


def test_an_absolute_path_inside_the_workspace_resolves(env: Env, tmp_path: Path) -> None:
    record = env.resolve(path=str(env.root / "src" / "b.py"), cwd=tmp_path)
    assert record.path == "src/b.py"


def test_node_resolves_by_a_unique_id_prefix(env: Env) -> None:
    full = env.node_id("src/lib")
    assert env.resolve(node=full[:10]).path == "src/lib"
    assert env.resolve(node=full).path == "src/lib"
    assert env.resolve(node=full[:10].upper()).path == "src/lib"


def test_unknown_node_prefix_is_node_not_found(env: Env) -> None:
    known = set(env.node_id(path)[:6] for path in TREE)
    prefix = next(p for p in ("000000", "ffffff", "abcdef") if p not in known)
    with pytest.raises(NodeNotFound):
        env.resolve(node=prefix)


def test_path_and_node_together_are_a_usage_error(env: Env) -> None:
    with pytest.raises(UsageError, match="PATH or --node") as caught:
        env.resolve(path="src", node=env.node_id("src"))
    assert not isinstance(caught.value, NodeNotFound)
    assert env.sink.events == []


def test_path_outside_the_workspace_is_rejected(env: Env, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(PathOutsideWorkspace):
        env.resolve(path=str(outside))
    with pytest.raises(PathOutsideWorkspace):
        env.plan(path="../elsewhere")


@pytest.mark.parametrize("path", ["missing.txt", "src/lib/e.py", "docs/readme.md/x"])
def test_path_not_in_the_tree_is_node_not_found(env: Env, path: str) -> None:
    with pytest.raises(NodeNotFound, match="not in the scanned tree"):
        env.plan(path=path)
    assert env.sink.events == []


def test_a_file_written_after_the_scan_is_not_found_until_rescanned(env: Env) -> None:
    write_tree(env.root, {"src/new.py": "n = 0\n"})
    with pytest.raises(NodeNotFound):
        env.resolve(path="src/new.py")
    scan(env.workspace)
    assert env.resolve(path="src/new.py").path == "src/new.py"


# -- the subtree -----------------------------------------------------------------------


@pytest.mark.parametrize("target", [".", "src", "src/lib", "docs", "a.txt"])
def test_subtree_holds_each_node_under_the_target_once(env: Env, target: str) -> None:
    nodes = env.generate.subtree(env.record(target))

    paths = [record.path for record in nodes]
    under = [p for p in TREE if target == "." or p == target or p.startswith(f"{target}/")]
    assert len(paths) == len(set(paths)) == len(under)
    assert sorted(paths) == sorted(under)
    assert nodes[0].path == target
    assert {record.node_id for record in nodes} == {env.node_id(p) for p in under}


def test_subtree_cuts_a_repeated_child_and_a_cycle(env: Env) -> None:
    # A scanned tree cannot reach one record twice (a node id covers its path), so
    # the guard is driven with a hand-made record of `src` that lists `src/lib` twice
    # and itself as a child; every lookup below it goes to the real store.
    src = env.record("src")
    looped = dataclasses.replace(
        src,
        children=(
            *src.children,
            ("lib-again", env.node_id("src/lib")),
            ("itself", src.node_id),
        ),
    )

    nodes = env.generate.subtree(looped)

    paths = [record.path for record in nodes]
    assert sorted(paths) == ["src", "src/b.py", "src/lib", "src/lib/c.py", "src/lib/d.py"]


# -- levels ----------------------------------------------------------------------------


def test_levels_group_by_depth_deepest_first_in_path_order(env: Env) -> None:
    outcome = env.plan()

    assert paths_of(outcome.plan) == LEVELS
    assert outcome.skipped == ()


def test_path_order_within_a_level_is_the_order_of_the_path_strings(env: Env) -> None:
    # "-" and "." sort before "/", so path order differs from a walk in name order here
    write_tree(env.root, {"m/z.py": "z\n", "m-2/a.py": "a\n", "m.d/b.py": "b\n"})
    scan(env.workspace)

    outcome = env.plan()

    assert outcome.plan is not None
    second = [item.path for item in outcome.plan.levels[-3]]
    assert [p for p in second if p.startswith("m")] == ["m-2/a.py", "m.d/b.py", "m/z.py"]
    for level in outcome.plan.levels:
        assert [item.path for item in level] == sorted(item.path for item in level)


def test_every_directory_comes_after_all_its_children(env: Env) -> None:
    write_tree(env.root, {"z/y/x/w.txt": "deep\n", "z/v.txt": "shallow\n", "e.txt": "e\n"})
    scan(env.workspace)

    plan = env.plan().plan

    assert plan is not None
    level_of = {item.node_id: index for index, level in enumerate(plan.levels) for item in level}
    directories = [item for level in plan.levels for item in level]
    directories = [item for item in directories if item.node_type is NodeType.DIRECTORY]
    assert len(directories) == 7
    for item in directories:
        for _, child_id in env.generate.subtree(env.record(item.path))[0].children:
            assert level_of[child_id] < level_of[item.node_id], item.path


def test_items_carry_the_options_and_the_node_type(env: Env) -> None:
    plan = env.plan(path="src/lib", agent_id="w2", provider_name="p2", frame_type="ft2").plan

    assert plan is not None
    assert [list(level) for level in plan.levels] == [
        [
            GenerationItem(
                key=FrameKey(env.node_id(path), "w2", "ft2"),
                path=path,
                node_type=NodeType.FILE,
                provider_name="p2",
            )
            for path in ("src/lib/c.py", "src/lib/d.py")
        ],
        [
            GenerationItem(
                key=FrameKey(env.node_id("src/lib"), "w2", "ft2"),
                path="src/lib",
                node_type=NodeType.DIRECTORY,
                provider_name="p2",
            )
        ],
    ]


# -- heads -----------------------------------------------------------------------------


def test_nodes_with_a_head_are_skipped_and_reported(env: Env) -> None:
    env.put_head("src/lib/c.py")
    env.put_head("docs")

    outcome = env.plan()

    # docs has a head, but its child is generated in this plan: the head would then
    # describe a child frame it was not written from, so docs is written again too.
    assert paths_of(outcome.plan) == [
        ["src/lib/d.py"],
        ["docs/readme.md", "src/b.py", "src/lib"],
        ["a.txt", "docs", "src"],
        ["."],
    ]
    assert sorted(outcome.skipped) == ["src/lib/c.py"]
    assert sorted(str(d["path"]) for d in env.events("node_skipped")) == ["src/lib/c.py"]
    assert outcome.plan is not None and outcome.plan.total_nodes == len(TREE) - 1
    forced = [item.path for level in outcome.plan.levels for item in level if item.force]
    assert forced == ["docs"]


def test_heads_of_another_agent_or_frame_type_do_not_count(env: Env) -> None:
    env.put_head("src/lib/c.py", agent_id=OTHER_AGENT)
    env.put_head("src/lib/c.py", frame_type=OTHER_FRAME_TYPE)
    env.put_head("docs", agent_id=OTHER_AGENT, frame_type=OTHER_FRAME_TYPE)

    outcome = env.plan()

    assert paths_of(outcome.plan) == LEVELS
    assert outcome.skipped == ()
    assert env.events("node_skipped") == []


def test_the_agent_drives_the_head_check(env: Env) -> None:
    env.put_head("src/lib/c.py", agent_id=OTHER_AGENT)

    outcome = env.plan(path="src/lib", agent_id=OTHER_AGENT)

    assert paths_of(outcome.plan) == [["src/lib/d.py"], ["src/lib"]]
    assert outcome.skipped == ("src/lib/c.py",)


def test_the_frame_type_drives_the_head_check(env: Env) -> None:
    env.put_head("src/lib/c.py", frame_type=OTHER_FRAME_TYPE)

    outcome = env.plan(path="src/lib", frame_type=OTHER_FRAME_TYPE)

    assert paths_of(outcome.plan) == [["src/lib/d.py"], ["src/lib"]]
    assert outcome.skipped == ("src/lib/c.py",)


def test_an_edited_file_and_its_ancestors_are_planned_again(env: Env) -> None:
    for path in leaf_to_trunk(TREE):
        env.put_head(path)
    write_tree(env.root, {"src/lib/c.py": "c = 30\n"})
    scan(env.workspace)

    outcome = env.plan()

    # the edit gives c.py, src/lib, src and the root new node ids, without heads
    assert paths_of(outcome.plan) == [["src/lib/c.py"], ["src/lib"], ["src"], ["."]]
    assert sorted(outcome.skipped) == [
        "a.txt",
        "docs",
        "docs/readme.md",
        "src/b.py",
        "src/lib/d.py",
    ]


def test_force_plans_nodes_that_have_heads(env: Env) -> None:
    env.put_head("src/lib/c.py")
    env.put_head(".")

    outcome = env.plan(force=True)

    assert paths_of(outcome.plan) == LEVELS
    assert outcome.skipped == ()
    assert outcome.plan is not None and outcome.plan.force is True
    assert env.events("node_skipped") == []


def test_without_force_the_plan_is_not_forced(env: Env) -> None:
    plan = env.plan().plan
    assert plan is not None and plan.force is False


def test_nothing_to_do_gives_no_plan(env: Env) -> None:
    for path in leaf_to_trunk(TREE):
        env.put_head(path)

    outcome = env.plan()

    assert outcome.plan is None
    assert outcome.target.path == "."
    assert sorted(outcome.skipped) == sorted(TREE)
    assert env.events("plan_constructed") == [
        {
            "plan_id": None,
            "target_path": ".",
            "total_nodes": 0,
            "total_levels": 0,
            "skipped": len(TREE),
        }
    ]


# -- --no-recursive --------------------------------------------------------------------


def test_no_recursive_on_a_file_plans_that_file_alone(env: Env) -> None:
    outcome = env.plan(path="src/b.py", recursive=False)

    assert paths_of(outcome.plan) == [["src/b.py"]]
    assert outcome.plan is not None
    assert (outcome.plan.total_nodes, outcome.plan.total_levels) == (1, 1)
    assert env.events("descendant_check_started") == []


def test_no_recursive_on_a_ready_directory_plans_the_directory_alone(env: Env) -> None:
    for path in ("src/b.py", "src/lib", "src/lib/c.py", "src/lib/d.py"):
        env.put_head(path)

    outcome = env.plan(path="src", recursive=False)

    assert paths_of(outcome.plan) == [["src"]]
    checks = [t for t, _ in env.sink.events if t.startswith("descendant_check")]
    assert checks == ["descendant_check_started", "descendant_check_passed"]
    assert env.events("descendant_check_passed") == [{"path": "src"}]


def test_no_recursive_on_a_directory_with_missing_descendants_is_refused(env: Env) -> None:
    env.put_head("src/b.py")
    env.put_head("src/lib")
    # a head of another frame type does not make c.py ready
    env.put_head("src/lib/c.py", frame_type=OTHER_FRAME_TYPE)

    with pytest.raises(DescendantsNotReady) as caught:
        env.plan(path="src", recursive=False)

    assert caught.value.missing == ["src/lib/c.py", "src/lib/d.py"]
    assert "src/lib/c.py" in caught.value.message and "--force" in (caught.value.hint or "")
    checks = [t for t, _ in env.sink.events if t.startswith("descendant_check")]
    assert checks == ["descendant_check_started", "descendant_check_failed"]
    assert env.events("plan_constructed") == []


def test_no_recursive_with_force_allows_a_directory_whose_descendants_are_missing(
    env: Env,
) -> None:
    outcome = env.plan(path="src", recursive=False, force=True)

    assert paths_of(outcome.plan) == [["src"]]
    assert outcome.plan is not None and outcome.plan.force is True


# -- the plan's fields -----------------------------------------------------------------


def test_plan_fields_are_all_set_and_the_plan_validates(env: Env) -> None:
    outcome = env.plan(
        path="src",
        session_id="session-42",
        priority=Priority.HIGH,
        failure_policy=FailurePolicy.CONTINUE,
        source="context generate",
    )

    plan = outcome.plan
    assert plan is not None
    assert outcome.target.path == "src"
    assert plan.plan_id and len(plan.plan_id) >= 16
    assert "context generate" in plan.source and "src" in plan.source
    assert plan.session_id == "session-42"
    assert plan.priority is Priority.HIGH
    assert plan.failure_policy is FailurePolicy.CONTINUE
    assert plan.target_path == "src"
    assert (plan.total_nodes, plan.total_levels) == (5, 3)
    assert plan.force is False
    validate_plan(plan)
    assert env.events("plan_constructed") == [
        {
            "plan_id": plan.plan_id,
            "target_path": "src",
            "total_nodes": 5,
            "total_levels": 3,
            "skipped": 0,
        }
    ]


def test_the_defaults_are_urgent_and_stop_on_level_failure(env: Env) -> None:
    plan = env.plan().plan
    assert plan is not None
    assert (plan.priority, plan.failure_policy, plan.session_id) == (
        Priority.URGENT,
        FailurePolicy.STOP_ON_LEVEL_FAILURE,
        None,
    )


def test_every_plan_gets_its_own_id(env: Env) -> None:
    ids = {env.plan().plan.plan_id for _ in range(5)}  # type: ignore[union-attr]
    assert len(ids) == 5


# -- validate_plan ---------------------------------------------------------------------


_KEY_FIELDS = FrameKey._fields


def _item(node: str, path: str, **changes: Any) -> GenerationItem:
    item = GenerationItem(
        key=FrameKey(node * 64, AGENT, FRAME_TYPE),
        path=path,
        node_type=NodeType.FILE,
        provider_name=PROVIDER,
    )
    return _replace(item, **changes)


def _replace(item: GenerationItem, **changes: Any) -> GenerationItem:
    """`item` with `changes`; `node_id`, `agent_id` and `frame_type` change its key."""
    key_changes = {name: changes.pop(name) for name in _KEY_FIELDS if name in changes}
    return dataclasses.replace(item, key=item.key._replace(**key_changes), **changes)


def _plan(*levels: tuple[GenerationItem, ...], **changes: Any) -> GenerationPlan:
    fields: dict[str, Any] = {
        "plan_id": "p",
        "source": "test",
        "session_id": None,
        "levels": levels,
        "priority": Priority.URGENT,
        "failure_policy": FailurePolicy.STOP_ON_LEVEL_FAILURE,
        "target_path": ".",
        "total_nodes": sum(len(level) for level in levels),
        "total_levels": len(levels),
    }
    return GenerationPlan(**{**fields, **changes})


A, B, ROOT = _item("a", "a.txt"), _item("b", "b.txt"), _item("c", ".")


def test_a_well_formed_plan_validates() -> None:
    validate_plan(_plan((A, B), (ROOT,)))
    # the same node for another frame type is another key
    validate_plan(_plan((A, B), (_replace(A, frame_type=OTHER_FRAME_TYPE),)))


@pytest.mark.parametrize(
    ("plan", "problem"),
    [
        pytest.param(_plan((A,), (), (ROOT,)), "level 1 is empty", id="empty-level"),
        pytest.param(_plan((A, B), (A,)), "appears twice", id="duplicate-key"),
        pytest.param(
            _plan((A,), (_replace(A, provider_name="other"),)),
            "appears twice",
            id="duplicate-key-other-provider",
        ),
        pytest.param(_plan((A, B), total_nodes=3), "total_nodes", id="wrong-total-nodes"),
        pytest.param(_plan((A, B), total_levels=2), "total_levels", id="wrong-total-levels"),
        pytest.param(_plan((_replace(A, agent_id="bad agent!"),)), "agent_id", id="bad-agent"),
        pytest.param(_plan((_replace(A, frame_type=""),)), "frame_type", id="bad-frame-type"),
        pytest.param(_plan((_replace(A, node_id=""),)), "node_id", id="no-node-id"),
        pytest.param(_plan((_replace(A, node_id="abc"),)), "node_id", id="short-node-id"),
        pytest.param(_plan((_replace(A, path=""),)), "no path", id="no-path"),
        pytest.param(_plan((A,), plan_id=""), "plan_id", id="no-plan-id"),
    ],
)
def test_validate_plan_rejects_a_broken_plan(plan: GenerationPlan, problem: str) -> None:
    with pytest.raises(PlanInvalid) as caught:
        validate_plan(plan)
    assert isinstance(caught.value, UsageError)
    assert problem in caught.value.message
