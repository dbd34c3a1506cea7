"""Separate OS processes sharing one durable frame generation queue.

Every worker is a real `python tests/support/queue_worker.py` process with its
own `FrameGenerationQueue` and `FrameWriter`, calling the real
OpenAI-compatible test server; the test releases workers together through
their stdin and watches the store and the server, never a clock.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from merkle.workspace.layout import Workspace
from merkle.workspace.validate import validate_workspace
from tests.conftest import write_tree
from tests.support.apps import backend, scan
from tests.support.cli import CliResult
from tests.support.line_worker import LineWorker
from tests.support.llm_server import LlmServer, Reply
from tests.support.store import query

WORKER_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "queue_worker.py"
AGENT = "docs-writer"
FRAME_TYPE = "context"
MODEL = "m"
# Interpreter start-up and imports, on a loaded machine.
START_TIMEOUT_S = 30.0
RESULT_TIMEOUT_S = 20.0
POLL_S = 0.02
# The killed worker's lease: short, so the takeover comes quickly, yet renewed
# often enough that a loaded machine does not lose it while the worker lives.
SHORT_LEASE_S = 1.5
SHORT_HEARTBEAT_S = 0.25
# How long a test watches for a provider call that must not come.
QUIET_S = 1.0
INTERRUPTED_STATUS = 130

Node = tuple[str, str, str]  # node_id, path, node_type


class Worker(LineWorker):
    """One queue worker process; killed, if it still runs, when its block ends."""

    def __init__(
        self,
        workspace: Workspace,
        server: LlmServer,
        nodes: Iterable[Node],
        *,
        lease_s: float = 30.0,
        heartbeat_s: float = 10.0,
        max_concurrent: int = 4,
        mode: str = "wait",
    ) -> None:
        super().__init__(
            WORKER_SCRIPT,
            str(workspace.database_path),
            str(workspace.root),
            server.openai_url,
            json.dumps([list(node) for node in nodes]),
            f"--lease-s={lease_s}",
            f"--heartbeat-s={heartbeat_s}",
            f"--max-concurrent={max_concurrent}",
            f"--mode={mode}",
            env={**os.environ, "TEST_KEY": "test-key"},
        )
        self.owner = ""

    def ready(self) -> None:
        """Wait until the worker has built its queue and blocks on stdin."""
        document = self.next_document(START_TIMEOUT_S)
        assert document.get("ready") is True, document
        self.owner = document["owner"]

    def release(self) -> None:
        """Let the worker start its queue and submit its requests."""
        self.send("go")

    def enqueued(self) -> dict[str, str]:
        """What a `serve` worker's plain enqueues did, by node id."""
        document = self.next_document(RESULT_TIMEOUT_S)
        assert "enqueued" in document, document
        statuses: dict[str, str] = document["enqueued"]
        return statuses

    def result(self) -> dict[str, Any]:
        """The frames and errors the worker reports, once it exited cleanly."""
        document = self.next_document(RESULT_TIMEOUT_S)
        assert self.process.wait(timeout=RESULT_TIMEOUT_S) == 0, self.stderr()
        assert "frames" in document, document
        return document

    def interrupted(self) -> tuple[int, dict[str, Any]]:
        """Its exit status and last line after an interrupt."""
        document = self.next_document(RESULT_TIMEOUT_S)
        return self.process.wait(timeout=RESULT_TIMEOUT_S), document


def scanned_files(workspace: Workspace, count: int) -> list[Node]:
    """`count` files written and scanned, as (node_id, path, node_type), by path."""
    write_tree(workspace.root, {f"src/file_{i:02d}.py": f"VALUE_{i} = {i}\n" for i in range(count)})
    scan(workspace)
    rows = query(
        workspace.root,
        "SELECT node_id, path, node_type FROM tree_entries WHERE node_type = 'file' ORDER BY path",
    )
    assert len(rows) == count
    return [(str(node_id), str(path), str(node_type)) for node_id, path, node_type in rows]


def wait_until(condition: Callable[[], bool], *, what: str, timeout_s: float = 15.0) -> None:
    """Poll `condition` until it holds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_S)


def waits_of(workspace: Workspace, owner: str) -> int:
    """How many requests the process `owner` is recorded as waiting on."""
    rows = query(workspace.root, "SELECT COUNT(*) FROM request_waiters WHERE owner = ?", (owner,))
    return int(rows[0][0])


def requests_stored(workspace: Workspace) -> int:
    """How many requests the store holds, in any state (rows are never deleted)."""
    return int(query(workspace.root, "SELECT COUNT(*) FROM frame_requests")[0][0])


def requested_paths(server: LlmServer, paths: Iterable[str]) -> list[str]:
    """The node path each provider call was for, in arrival order."""
    known = list(paths)
    found = []
    for request in server.requests:
        text = json.dumps(request.body)
        matches = [path for path in known if path in text]
        assert len(matches) == 1, f"a provider call names {matches}"
        found.append(matches[0])
    return found


def requests_by_node(workspace: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """node_id -> its rows (state, attempts, joined, lease_owner, frame_id) in frame_requests."""
    rows = query(
        workspace.root,
        "SELECT node_id, state, attempts, joined, lease_owner, frame_id FROM frame_requests"
        " ORDER BY request_id",
    )
    found: dict[str, list[tuple[Any, ...]]] = {}
    for node_id, *rest in rows:
        found.setdefault(node_id, []).append(tuple(rest))
    return found


def heads(workspace: Workspace) -> dict[str, str]:
    """node_id -> head frame id, for the tests' agent and frame type."""
    rows = query(
        workspace.root,
        "SELECT node_id, frame_id FROM heads WHERE agent_id = ? AND frame_type = ?",
        (AGENT, FRAME_TYPE),
    )
    return dict(rows)


def frames_per_node(workspace: Workspace) -> Counter[str]:
    """How many frames each node has."""
    rows = query(workspace.root, "SELECT node_id, COUNT(*) FROM frames GROUP BY node_id")
    return Counter(dict(rows))


def assert_valid(workspace: Workspace) -> None:
    with backend(workspace) as store:
        report = validate_workspace(store)
    assert report.ok, report.problems


def test_two_processes_submitting_the_same_50_keys_make_one_provider_call_per_key(
    workspace: Workspace,
) -> None:
    nodes = scanned_files(workspace, 50)
    paths = [path for _, path, _ in nodes]
    with ExitStack() as stack:
        server = stack.enter_context(LlmServer(models=[MODEL], default=Reply.answer(delay_s=0.01)))
        workers = [
            stack.enter_context(Worker(workspace, server, nodes, max_concurrent=8))
            for _ in range(2)
        ]
        for worker in workers:
            worker.ready()
        with backend(workspace) as store:
            # An open plan of a third process (this test, as an orchestrator) holds
            # back every request outside it, so both workers have submitted all 50
            # keys before any runs: each key is deduplicated across processes, not
            # answered by a head that the other process already wrote.
            queue = store.queue
            queue.open_plan("gate", owner="test", now_ns=time.time_ns(), lease_ns=60 * 10**9)
            for worker in workers:
                worker.release()
            wait_until(
                lambda: all(waits_of(workspace, w.owner) == 50 for w in workers),
                what="both workers to wait on 50 requests",
            )
            assert server.requests == []
            queue.close_plan("gate")
        first, second = (worker.result() for worker in workers)

    assert first["errors"] == {} and second["errors"] == {}
    assert set(first["frames"]) == {node_id for node_id, _, _ in nodes}
    assert first["frames"] == second["frames"]
    assert len(server.requests) == 50
    assert Counter(requested_paths(server, paths)) == Counter(paths)
    # One request per key: one process inserted it, the other joined it.
    rows = requests_by_node(workspace)
    assert {node_id: len(found) for node_id, found in rows.items()} == dict.fromkeys(
        first["frames"], 1
    )
    for node_id, [(state, attempts, joined, lease_owner, frame_id)] in rows.items():
        assert (state, attempts, joined, lease_owner) == ("done", 1, 1, None)
        assert frame_id == first["frames"][node_id]
    assert heads(workspace) == first["frames"]
    assert frames_per_node(workspace) == Counter(dict.fromkeys(first["frames"], 1))
    assert_valid(workspace)


def test_killed_workers_call_is_made_again_by_the_process_waiting_on_its_key(
    workspace: Workspace, merkle: Callable[..., CliResult]
) -> None:
    [(node_id, path, _)] = nodes = scanned_files(workspace, 1)
    with ExitStack() as stack:
        server = stack.enter_context(LlmServer(models=[MODEL]))
        server.script(Reply.hang())  # the first call never returns; the next is answered
        doomed = stack.enter_context(
            Worker(workspace, server, nodes, lease_s=SHORT_LEASE_S, heartbeat_s=SHORT_HEARTBEAT_S)
        )
        survivor = stack.enter_context(Worker(workspace, server, nodes))
        doomed.ready()
        survivor.ready()
        doomed.release()
        assert server.wait_for_requests(1, timeout_s=RESULT_TIMEOUT_S), doomed.stderr()
        survivor.release()
        wait_until(lambda: waits_of(workspace, survivor.owner) == 1, what="the second waiter")
        # While the doomed process lives, its heartbeat renews the lease: no takeover
        # for longer than the lease, although the survivor polls for work all along.
        assert not server.wait_for_requests(2, timeout_s=SHORT_LEASE_S + QUIET_S)
        [(state, _, _, lease_owner, _)] = requests_by_node(workspace)[node_id]
        assert (state, lease_owner) == ("processing", doomed.owner)
        doomed.process.kill()
        assert doomed.process.wait(timeout=10) == -signal.SIGKILL
        result = survivor.result()

    assert result["errors"] == {}
    frame_id = result["frames"][node_id]
    # The call in flight when its process died is made again by the process that
    # took the expired lease over: that second call is inherent (nobody can know
    # whether the first would have answered), and it is the only duplicate.
    assert requested_paths(server, [path]) == [path, path]
    [(state, attempts, _, lease_owner, stored_frame)] = requests_by_node(workspace)[node_id]
    assert (state, attempts, lease_owner, stored_frame) == ("done", 2, None, frame_id)
    assert frames_per_node(workspace) == Counter({node_id: 1})
    assert heads(workspace) == {node_id: frame_id}
    validation = merkle("workspace", "validate", "--json", cwd=workspace.root)
    assert validation.code == 0, validation.stderr
    assert validation.json()["ok"] is True
    assert validation.json()["frames_checked"] == 1


def test_sigint_cancels_the_interrupted_process_own_pending_requests(
    workspace: Workspace,
) -> None:
    nodes = scanned_files(workspace, 20)
    paths = {node_id: path for node_id, path, _ in nodes}
    with ExitStack() as stack:
        server = stack.enter_context(LlmServer(models=[MODEL], default=Reply.answer(delay_s=0.2)))
        worker = stack.enter_context(Worker(workspace, server, nodes, max_concurrent=1))
        worker.ready()
        worker.release()
        wait_until(
            lambda: requests_stored(workspace) == 20 and len(server.requests) >= 2,
            what="20 submitted requests and a call in flight",
        )
        worker.process.send_signal(signal.SIGINT)
        status, document = worker.interrupted()

    assert (status, document) == (INTERRUPTED_STATUS, {"interrupted": True}), worker.stderr()
    called = set(requested_paths(server, paths.values()))
    rows = requests_by_node(workspace)
    assert set(rows) == set(paths)
    states = Counter(state for [(state, *_)] in rows.values())
    assert set(states) <= {"done", "cancelled"}, states
    assert states["cancelled"] >= 20 - len(called) >= 1
    current_heads = heads(workspace)
    for node_id, [(state, _, _, lease_owner, frame_id)] in rows.items():
        assert lease_owner is None
        if paths[node_id] not in called:
            assert state == "cancelled", paths[node_id]
        if state == "done":
            assert current_heads[node_id] == frame_id
    assert waits_of(workspace, worker.owner) == 0
    assert_valid(workspace)


def test_sigint_leaves_a_request_another_process_waits_on_to_that_process(
    workspace: Workspace,
) -> None:
    nodes = scanned_files(workspace, 20)
    first, last = nodes[0], nodes[-1]
    paths = [path for _, path, _ in nodes]
    with ExitStack() as stack:
        server = stack.enter_context(LlmServer(models=[MODEL]))
        server.script(Reply.hang())  # holds the only slot (max_concurrent=1) until interrupted
        interrupted = stack.enter_context(Worker(workspace, server, nodes, max_concurrent=1))
        waiter = stack.enter_context(Worker(workspace, server, [first, last], max_concurrent=1))
        interrupted.ready()
        waiter.ready()
        interrupted.release()
        assert server.wait_for_requests(1, timeout_s=RESULT_TIMEOUT_S), interrupted.stderr()
        wait_until(lambda: requests_stored(workspace) == 20, what="20 stored requests")
        assert requested_paths(server, paths) == [first[1]]
        waiter.release()
        wait_until(lambda: waits_of(workspace, waiter.owner) == 2, what="the second waiter")
        interrupted.process.send_signal(signal.SIGINT)
        status, document = interrupted.interrupted()
        result = waiter.result()

    assert (status, document) == (INTERRUPTED_STATUS, {"interrupted": True}), interrupted.stderr()
    assert result["errors"] == {}
    assert set(result["frames"]) == {first[0], last[0]}
    rows = requests_by_node(workspace)
    for node_id, _, _ in nodes:
        [(state, _, _, lease_owner, frame_id)] = rows[node_id]
        assert lease_owner is None
        if node_id in result["frames"]:
            assert (state, frame_id) == ("done", result["frames"][node_id])
        else:
            assert state == "cancelled"
    # The call in flight at the interrupt is made again, by the waiting process.
    assert Counter(requested_paths(server, paths)) == Counter({first[1]: 2, last[1]: 1})
    assert rows[first[0]][0][1] == 2
    assert heads(workspace) == result["frames"]
    assert frames_per_node(workspace) == Counter(dict.fromkeys(result["frames"], 1))
    assert_valid(workspace)


def test_sigint_leaves_a_request_alone_while_another_process_makes_its_call(
    workspace: Workspace,
) -> None:
    """Ctrl-C cancels pending work nobody else needs, not a call another process is
    making: cancelling that row frees the key, so the next request for it starts a
    second call while the first is still in flight.

    Fails against the queue store's `abandon` as written, which cancels a request the
    interrupted process waits on in state pending *or processing*, whoever holds
    the lease.
    """
    held, (node_id, path, node_type) = scanned_files(workspace, 2)
    nodes = [(node_id, path, node_type)]
    with ExitStack() as stack:
        # Every call hangs: the serving process's calls stay in flight.
        server = stack.enter_context(LlmServer(models=[MODEL], default=Reply.hang()))
        # The serving process may make two calls at once, the others one: once the
        # serving process holds one call, only it can take the key's request.
        serving = stack.enter_context(
            Worker(workspace, server, [held], mode="serve", max_concurrent=2)
        )
        interrupted = stack.enter_context(Worker(workspace, server, nodes, max_concurrent=1))
        later = stack.enter_context(Worker(workspace, server, nodes, max_concurrent=1))
        for worker in (serving, interrupted, later):
            worker.ready()
        serving.release()
        assert serving.enqueued() == {held[0]: "enqueued"}
        assert server.wait_for_requests(1, timeout_s=RESULT_TIMEOUT_S), serving.stderr()
        interrupted.release()
        assert server.wait_for_requests(2, timeout_s=RESULT_TIMEOUT_S), serving.stderr()
        assert requested_paths(server, [held[1], path]) == [held[1], path]
        [(state, _, _, lease_owner, _)] = requests_by_node(workspace)[node_id]
        assert (state, lease_owner) == ("processing", serving.owner)
        interrupted.process.send_signal(signal.SIGINT)
        status, document = interrupted.interrupted()
        assert (status, document) == (INTERRUPTED_STATUS, {"interrupted": True})
        later.release()
        wait_until(lambda: waits_of(workspace, later.owner) == 1, what="the later waiter")
        # The key's call is still in flight in the serving process: a later request
        # for the key must join it, not start a second call (the key invariant; the
        # agents' limits are at stake too, as the call no longer counts).
        second_call = server.wait_for_requests(3, timeout_s=QUIET_S)
        rows = requests_by_node(workspace)[node_id]

    assert not second_call, f"a second call for {path} while the first was in flight: {rows}"
    assert [(state, lease_owner) for state, _, _, lease_owner, _ in rows] == [
        ("processing", serving.owner)
    ]


def test_sigint_leaves_a_request_another_process_submitted_without_waiting(
    workspace: Workspace,
) -> None:
    """A process that only joined a request, then is interrupted, does not cancel the
    request another process submitted with plain `enqueue` (watch mode, the scanner).

    Fails against the queue store's `enqueue` and `abandon` as written: a plain `enqueue`
    records no interest in the request, so the joiner looks like its only waiter.
    """
    [(node_id, _, _)] = nodes = scanned_files(workspace, 1)
    with ExitStack() as stack:
        server = stack.enter_context(LlmServer(models=[MODEL]))
        # A watcher submits the key without waiting (as watch mode or the scanner do).
        watcher = stack.enter_context(Worker(workspace, server, nodes, mode="serve"))
        interrupted = stack.enter_context(Worker(workspace, server, nodes))
        watcher.ready()
        interrupted.ready()
        with backend(workspace) as store:
            # The gate plan holds the request back until the interrupt is over.
            queue = store.queue
            queue.open_plan("gate", owner="test", now_ns=time.time_ns(), lease_ns=60 * 10**9)
            watcher.release()
            assert watcher.enqueued() == {node_id: "enqueued"}
            interrupted.release()
            wait_until(lambda: waits_of(workspace, interrupted.owner) == 1, what="the join")
            interrupted.process.send_signal(signal.SIGINT)
            status, document = interrupted.interrupted()
            assert (status, document) == (INTERRUPTED_STATUS, {"interrupted": True})
            [(state, *_)] = requests_by_node(workspace)[node_id]
            queue.close_plan("gate")
        # The watcher's own request must survive the interrupt of a process that
        # only joined it, and be done by the watcher.
        assert state == "pending"
        wait_until(lambda: node_id in heads(workspace), what="the watcher's frame")

    assert len(server.requests) == 1
    assert_valid(workspace)
