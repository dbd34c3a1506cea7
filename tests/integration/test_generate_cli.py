"""`merkle context generate` end to end: the real CLI in OS processes, the real store and
queue, the OpenAI-compatible test server (seed 003, section 10).

The tests of several plans at once run each generation as the command does,
through `MerkleApp`, in a thread of the test process (`start_in_process`):
each has its own store connections and queue owner, so they coordinate
through the store exactly as two processes do, without paying for two
process starts. Dedup across processes, SIGKILL and SIGINT keep real
processes (test_queue_processes.py, test_generate_resume.py,
test_sessions_cli.py), and the command's own output and exit codes are
tested through the real entry point here. Runs are paced through the server,
never a clock: the server holds the answers for chosen nodes
(`GatedLlmServer.hold`) while the test watches the store until the other
run has submitted its work, then releases them. Which node a request is for
is read from the first content block of its prompt. Every plan the CLI
builds has priority `urgent` (there is no flag for another), so the
"different priorities" of seed 003 cannot be expressed through the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.generate_cli import (
    API_KEY,
    BROKEN_PROVIDER,
    KEY_ENV,
    TREE_NODES,
    WRONG_API_KEY,
    WRONG_KEY_ENV,
    GenerateBench,
    generate_bench,
    parent_path,
    subtree,
    user_message,
)
from tests.support.llm_server import Reply

pytestmark = pytest.mark.timeout(120)

RESULT_KEYS = {"plan_id", "successes", "failures", "level_summaries"}
RESULT_KEYS |= {"total_generated", "total_failed"}


@pytest.fixture(autouse=True)
def keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys the providers read, for the generations run in this process."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(WRONG_KEY_ENV, WRONG_API_KEY)


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[GenerateBench]:
    with generate_bench(tmp_path) as running:
        # A distinct text per answer: a node generated twice would get two frame ids.
        running.server.script(*(Reply.answer(f"note {index}") for index in range(200)))
        yield running


def frames_by_path(bench: GenerateBench, result: dict[str, Any]) -> dict[str, str]:
    """A `--json` result's successes keyed by path instead of node id."""
    paths = {node_id: path for path, node_id in bench.node_ids().items()}
    return {paths[node_id]: frame_id for node_id, frame_id in result["successes"].items()}


def assert_one_call_each(bench: GenerateBench, nodes: set[str]) -> None:
    counts = bench.server.call_counts()
    assert counts == dict.fromkeys(nodes, 1), f"provider calls per node: {dict(counts)}"


# -- one process ------------------------------------------------------------------------


def test_json_prints_the_generation_result_and_generates_leaf_to_trunk(
    bench: GenerateBench,
) -> None:
    result = bench.run("context", "generate", "--json")

    assert result.code == 0, result.stderr
    document = result.json()
    assert set(document) >= RESULT_KEYS
    assert document["total_generated"] == len(TREE_NODES)
    assert document["total_failed"] == 0
    assert document["failures"] == {}
    assert [s["total"] for s in document["level_summaries"]] == [1, 3, 4, 3, 1]
    assert frames_by_path(bench, document) == bench.heads()
    assert_one_call_each(bench, set(TREE_NODES))
    calls = bench.server.calls()
    created = bench.head_created_ns()
    for node in TREE_NODES:
        if node == ".":
            continue
        parent = parent_path(node)
        assert calls.index(parent) > calls.index(node), f"{parent} was asked before {node}"
        assert created[parent] > created[node], f"{parent}'s frame is older than {node}'s"


def test_second_run_has_nothing_to_do_and_calls_nothing(bench: GenerateBench) -> None:
    assert bench.run("context", "generate").code == 0
    before = len(bench.server.requests)

    text = bench.run("context", "generate")
    document = bench.run("context", "generate", "src", "--json", "--list-skipped")
    counts = bench.run("context", "generate", "src/app.py", "--json")
    one = bench.run("context", "generate", "src/app.py")

    assert text.code == 0, text.stderr
    assert "Nothing to do: the directory . and the 11 nodes below it already" in text.stdout
    assert one.stdout.startswith("Nothing to do: src/app.py already has a frame.")
    assert document.code == 0, document.stderr
    assert document.json()["plan_id"] is None
    assert sorted(document.json()["skipped"]) == sorted(subtree("src"))
    # One shape whether or not there was work: counts always, paths when asked for.
    assert set(document.json()) >= RESULT_KEYS | {"total_skipped", "target_path", "session_id"}
    assert counts.json()["total_generated"] == counts.json()["total_failed"] == 0
    assert counts.json()["total_skipped"] == 1 and "skipped" not in counts.json()
    assert len(bench.server.requests) == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--agent", "nobody"], "nobody"),
        (["--provider", "nowhere"], "nowhere"),
        (["src/missing.py"], "src/missing.py"),
        (["src", "--node", "0" * 64], "one of"),
        (["src/sub", "--no-recursive"], "no frame yet"),
    ],
    ids=["unknown-agent", "unknown-provider", "path-not-in-tree", "path-and-node", "no-children"],
)
def test_bad_input_exits_2_before_any_provider_call(
    bench: GenerateBench, args: list[str], says: str
) -> None:
    result = bench.run("context", "generate", *args)

    assert result.code == 2, (result.stdout, result.stderr)
    assert says in result.stderr
    assert bench.server.requests == []
    assert bench.request_rows() == []


def test_permanent_failures_exit_1_and_are_listed_with_their_error_class(
    bench: GenerateBench,
) -> None:
    bench.server.route("src/util.py", Reply.error(400, "unsupported content"))

    result = bench.run("context", "generate", "src", "--failure-policy", "continue", "--json")

    assert result.code == 1, result.stderr
    document = result.json()
    paths = {node_id: path for path, node_id in bench.node_ids().items()}
    failures = {paths[node]: f["error_class"] for node, f in document["failures"].items()}
    # The directory cannot be described without its child's frame: a failure of its own.
    assert failures == {"src/util.py": "bad_request", "src": "missing_child_frame"}
    assert set(frames_by_path(bench, document)) == subtree("src") - set(failures)
    assert document["total_failed"] == 2
    assert bench.server.call_counts()["src/util.py"] == 1  # a 400 is not retried


def test_a_failed_level_stops_the_plan_and_the_text_names_the_failure(
    bench: GenerateBench,
) -> None:
    bench.server.route("src/sub/c.py", Reply.error(400, "unsupported content"))

    result = bench.run("context", "generate", "src")

    assert result.code == 1, result.stderr
    assert "failed  src/sub/c.py: bad_request:" in result.stdout
    assert "stopped: level 1 failed" in result.stdout
    assert set(bench.server.calls()) == {"src/sub/deep/e.py", "src/sub/c.py", "src/sub/d.py"} | {
        "src/sub/deep"
    }
    assert "src/sub" not in bench.heads()


def test_frame_type_decides_which_heads_count_and_which_child_frames_are_sent(
    tmp_path: Path,
) -> None:
    with generate_bench(tmp_path, default=Reply.answer("CONTEXT NOTE")) as bench:
        assert bench.run("context", "generate").code == 0
        context_calls = len(bench.server.calls())
        # Context frames do not make a directory's children ready for another type.
        not_ready = bench.run(
            "context", "generate", "src/sub", "--no-recursive", "--frame-type", "other"
        )
        assert not_ready.code == 2, not_ready.stderr
        bench.server.default = Reply.answer("OTHER NOTE")

        result = bench.run("context", "generate", "--frame-type", "other", "--json")

        assert result.code == 0, result.stderr
        assert result.json()["total_generated"] == len(TREE_NODES)
        other_requests = [r for r in bench.server.requests if r.path.endswith("/completions")]
        other_requests = other_requests[context_calls:]
        assert len(other_requests) == len(TREE_NODES)
        directories = [r for r in other_requests if "\n<child " in user_message(r)]
        assert len(directories) == 5
        for request in directories:
            message = user_message(request)
            assert "OTHER NOTE" in message
            assert "CONTEXT NOTE" not in message
        assert set(bench.heads("other")) == set(TREE_NODES)
        assert bench.heads("context") != bench.heads("other")


# -- several plans at once (seed 003, section 10) ------------------------------------------


def test_two_plans_for_the_same_folder_share_frames_and_call_once_per_node(
    bench: GenerateBench,
) -> None:
    gate = bench.server.hold({"src/sub/deep/e.py"})
    first = bench.start_in_process("src/sub")
    second = bench.start_in_process("src/sub")
    # Both plans are open and both submitted their first level before anything finishes.
    bench.wait_until(
        "both plans to submit their first level",
        lambda: len(bench.open_plans()) == 2 and bench.joined("src/sub/deep/e.py") >= 1,
    )
    gate.release()

    results = bench.finish_all([first, second])

    assert [r.code for r in results] == [0, 0], [r.stderr for r in results]
    a, b = (frames_by_path(bench, r.json()) for r in results)
    assert a == b == {path: bench.heads()[path] for path in subtree("src/sub")}
    assert_one_call_each(bench, subtree("src/sub"))


def test_overlapping_plans_of_a_folder_and_its_parent_stay_stable_without_duplicates(
    bench: GenerateBench,
) -> None:
    gate = bench.server.hold({"src/sub/deep/e.py"})
    inner = bench.start_in_process("src/sub")
    bench.server.wait_for_calls({"src/sub/deep/e.py"})
    outer = bench.start_in_process("src")
    bench.wait_until(
        "the parent's plan to join the first request",
        lambda: len(bench.open_plans()) == 2 and bench.joined("src/sub/deep/e.py") >= 1,
    )
    gate.release()

    inner_result, outer_result = bench.finish_all([inner, outer])

    assert (inner_result.code, outer_result.code) == (0, 0), outer_result.stderr
    inner_frames = frames_by_path(bench, inner_result.json())
    outer_frames = frames_by_path(bench, outer_result.json())
    assert set(inner_frames) == subtree("src/sub")
    assert set(outer_frames) == subtree("src")
    assert {path: outer_frames[path] for path in inner_frames} == inner_frames
    assert_one_call_each(bench, subtree("src"))
    # The active (first) plan runs to its end before the other plan's own nodes start.
    calls = bench.server.calls()
    last_inner = max(calls.index(path) for path in subtree("src/sub"))
    assert min(calls.index(path) for path in subtree("src") - subtree("src/sub")) > last_inner


def test_a_direct_request_for_a_node_later_in_the_active_plan_is_shared(
    bench: GenerateBench,
) -> None:
    gate = bench.server.hold({"src/sub/deep/e.py"})
    plan = bench.start_in_process("src")
    bench.server.wait_for_calls({"src/sub/deep/e.py"})
    # src/app.py is in the plan's third level: the direct request reaches the queue first.
    direct = bench.start_in_process("src/app.py", recursive=False)
    bench.wait_until("the direct request", lambda: bench.plan_of("src/app.py") is not None)
    gate.release()

    plan_result, direct_result = bench.finish_all([plan, direct])

    assert (plan_result.code, direct_result.code) == (0, 0), plan_result.stderr
    plan_frames = frames_by_path(bench, plan_result.json())
    assert frames_by_path(bench, direct_result.json()) == {"src/app.py": plan_frames["src/app.py"]}
    assert_one_call_each(bench, subtree("src"))


def test_a_plan_started_after_another_finished_part_reuses_its_heads(
    bench: GenerateBench,
) -> None:
    # Hold the whole-tree plan at the level of src/sub: everything deeper has frames.
    depth_one = {"src/app.py", "src/util.py", "src/sub", "docs/guide.md"}
    gate = bench.server.hold(depth_one)
    first = bench.start_in_process()
    bench.server.wait_for_calls(depth_one)
    second = bench.start_in_process("src/sub")
    bench.wait_until(
        "the second plan to join src/sub",
        lambda: len(bench.open_plans()) == 2 and bench.joined("src/sub") >= 1,
    )
    gate.release()

    first_result, second_result = bench.finish_all([first, second])

    assert (first_result.code, second_result.code) == (0, 0), second_result.stderr
    second_document = second_result.json()
    assert sorted(second_document["skipped"]) == sorted(subtree("src/sub") - {"src/sub"})
    first_frames = frames_by_path(bench, first_result.json())
    assert frames_by_path(bench, second_document) == {"src/sub": first_frames["src/sub"]}
    assert_one_call_each(bench, set(TREE_NODES))


def test_a_higher_branch_during_a_subbranch_plan_joins_pending_work_and_reuses_heads(
    bench: GenerateBench,
) -> None:
    second_level = {"src/sub/c.py", "src/sub/d.py", "src/sub/deep"}
    gate = bench.server.hold(second_level)
    branch = bench.start_in_process("src/sub")
    bench.server.wait_for_calls(second_level)
    trunk = bench.start_in_process("src")
    bench.wait_until(
        "the higher branch to join the held level",
        lambda: (
            len(bench.open_plans()) == 2 and all(bench.joined(path) >= 1 for path in second_level)
        ),
    )
    gate.release()

    branch_result, trunk_result = bench.finish_all([branch, trunk])

    assert (branch_result.code, trunk_result.code) == (0, 0), trunk_result.stderr
    trunk_document = trunk_result.json()
    assert trunk_document["skipped"] == ["src/sub/deep/e.py"]
    branch_frames = frames_by_path(bench, branch_result.json())
    trunk_frames = frames_by_path(bench, trunk_document)
    assert {path: trunk_frames[path] for path in branch_frames if path in trunk_frames} == {
        path: frame for path, frame in branch_frames.items() if path != "src/sub/deep/e.py"
    }
    assert_one_call_each(bench, subtree("src"))


def test_a_single_file_already_in_the_active_plan_joins_it_without_a_second_call(
    bench: GenerateBench,
) -> None:
    gate = bench.server.hold({"src/sub/deep/e.py"})
    plan = bench.start_in_process("src")
    bench.server.wait_for_calls({"src/sub/deep/e.py"})
    single = bench.start_in_process("src/sub/deep/e.py", recursive=False)
    bench.wait_until("the single file to join", lambda: bench.joined("src/sub/deep/e.py") >= 1)
    gate.release()

    plan_result, single_result = bench.finish_all([plan, single])

    assert (plan_result.code, single_result.code) == (0, 0), single_result.stderr
    plan_frames = frames_by_path(bench, plan_result.json())
    assert frames_by_path(bench, single_result.json()) == {
        "src/sub/deep/e.py": plan_frames["src/sub/deep/e.py"]
    }
    assert_one_call_each(bench, subtree("src"))


def test_a_direct_request_outside_the_active_plan_waits_for_the_plan_to_finish(
    tmp_path: Path,
) -> None:
    # Slow answers: a request that did not wait would reach the server mid-plan.
    with generate_bench(tmp_path, default=Reply.answer(delay_s=0.2)) as bench:
        gate = bench.server.hold({"src/sub/deep/e.py"})
        plan = bench.start_in_process("src")
        bench.server.wait_for_calls({"src/sub/deep/e.py"})
        direct = bench.start_in_process("docs/guide.md", recursive=False)
        bench.wait_until("the direct request", lambda: bench.plan_of("docs/guide.md") is not None)
        gate.release()

        plan_result, direct_result = bench.finish_all([plan, direct])

        assert (plan_result.code, direct_result.code) == (0, 0), direct_result.stderr
        calls = bench.server.calls()
        assert calls[-1] == "docs/guide.md", calls
        assert_one_call_each(bench, subtree("src") | {"docs/guide.md"})


def test_a_failing_process_does_not_block_another_from_finishing_its_plan(
    bench: GenerateBench,
) -> None:
    failing = bench.start_in_process("docs", provider=BROKEN_PROVIDER)
    working = bench.start_in_process("src")

    failing_result, working_result = bench.finish_all([failing, working])

    assert working_result.code == 0, working_result.stderr
    assert set(frames_by_path(bench, working_result.json())) == subtree("src")
    assert failing_result.code == 1, failing_result.stderr
    failures = failing_result.json()["failures"]
    assert [(f["path"], f["error_class"]) for f in failures.values()] == [("docs/guide.md", "auth")]
    counts = bench.server.call_counts()
    assert counts == {**dict.fromkeys(subtree("src"), 1), "docs/guide.md": 1}
