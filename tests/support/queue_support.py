"""The queue over a real workspace: the real store, the real generator, the test server.

`queue_bench` writes and scans a small workspace and starts the test LLM
server; `running_queue` builds, through the app, the real `FrameWriter` (the
`openai` provider aimed at the server) and a started `FrameGenerationQueue`
on the workspace store, and closes both in the loop that used them. Only the
clock (`FakeClock`) and the randomness (a seeded `random.Random`) are fakes.

Three providers point at the server: `remote` and `remote-b` send the key
the server accepts, `remote-badkey` sends another one (the server answers
401). Two writer agents exist: the built-in `docs-writer` and `probe-writer`,
whose requests are governed by their own limits; tests use the latter to
make the dispatcher run a claim at a known clock reading.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from merkle.app import MerkleApp
from merkle.config import AgentSettings, ProviderSettings, Settings, StoreSettings
from merkle.context.api import metadata_of
from merkle.context.generation.credentials import fingerprint
from merkle.context.queue import (
    AgentLimits,
    FrameKey,
    FrameRequest,
    ListSink,
    Priority,
    QueueSettings,
    RetrySettings,
)
from merkle.context.queue.queue import FrameGenerationQueue
from merkle.metadata import FrameMetadata
from merkle.store import Frame, NodeRecord, sqlite_url
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import app_of, scan
from tests.support.llm_server import LlmServer, Reply

AGENT = "docs-writer"
PROBE_AGENT = "probe-writer"
FRAME_TYPE = "context"
MODEL = "m"
REMOTE = "remote"
REMOTE_B = "remote-b"
BAD_KEY_PROVIDER = "remote-badkey"
KEY_ENV = "MERKLE_QUEUE_TEST_KEY"
BAD_KEY_ENV = "MERKLE_QUEUE_TEST_BAD_KEY"
# Fake keys, assembled so that no scanner mistakes this file for a leak.
API_KEY = "sk-" + "test-queue-4f9a1c"
BAD_API_KEY = "sk-" + "test-wrong-77b2e0"

# Twenty small files: `src/fNN.py` for NN in 00..19.
FILES: dict[str, bytes | str] = {
    f"src/f{index:02d}.py": f'"""Module {index}."""\n\nVALUE_{index} = {index}\n'
    for index in range(20)
}

START_NS = 1_700_000_000 * 1_000_000_000
_FILE_PATH = re.compile(r'<file path="([^"]*)"')


class FakeClock:
    """A wall clock that stands still until the test advances it.

    The queue reads it from its store thread and its event loop; an `int`
    attribute is read and written whole, so no lock is needed.
    """

    def __init__(self, start_ns: int = START_NS) -> None:
        self.now_ns = start_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`."""
        self.now_ns += round(seconds * 1e9)


def fast_settings(**changes: Any) -> QueueSettings:
    """Queue settings with short polls and retries (real leases: 30 s)."""
    values: dict[str, Any] = {
        "poll_s": 0.01,
        "lease_s": 30.0,
        "heartbeat_s": 5.0,
        "retry": RetrySettings(max_attempts=4, base_delay_s=0.01, max_delay_s=0.5, jitter=0.0),
    }
    values.update(changes)
    return QueueSettings(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRow:
    """A `frame_requests` row as another process would read it."""

    request_id: int
    path: str
    agent_id: str
    provider_name: str
    priority: int
    plan_id: str | None
    state: str
    attempts: int
    next_attempt_at_ns: int
    joined: int
    frame_id: str | None
    error_class: str | None


@dataclass
class QueueBench:
    """A scanned workspace, the running test server, and the events of the queue."""

    workspace: Workspace
    server: LlmServer
    nodes: dict[str, NodeRecord]
    sink: ListSink = field(default_factory=ListSink)

    @property
    def database_path(self) -> Path:
        """The workspace database, which the queue and the tests share."""
        return self.workspace.database_path

    def app(self, *, busy_timeout_ms: int | None = None) -> MerkleApp:
        """The workspace's app: the probe agent and the three providers aimed at the server
        (and a store that waits `busy_timeout_ms` for a lock, if given)."""
        url = sqlite_url(self.database_path)
        if busy_timeout_ms is not None:
            url += f"?busy_timeout_ms={busy_timeout_ms}"
        settings = dataclasses.replace(
            Settings.defaults(),
            agents={PROBE_AGENT: probe_agent()},
            providers=provider_settings(self.server),
            store=StoreSettings(url=url),
        )
        return MerkleApp(self.workspace, settings)

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the store's write lock from another connection while the block runs."""
        with closing(sqlite3.connect(self.database_path, isolation_level=None)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                connection.execute("ROLLBACK")

    def request(
        self,
        path: str,
        *,
        agent_id: str = AGENT,
        provider: str = REMOTE,
        priority: Priority = Priority.NORMAL,
        plan_id: str | None = None,
        force: bool = False,
    ) -> FrameRequest:
        """A request for the node at `path`."""
        record = self.nodes[path]
        return FrameRequest(
            key=FrameKey(record.node_id, agent_id, FRAME_TYPE),
            path=record.path,
            node_type=record.node_type,
            provider_name=provider,
            priority=priority,
            plan_id=plan_id,
            force=force,
        )

    # -- what the server saw ---------------------------------------------------------

    def server_paths(self) -> list[str]:
        """The file each chat completion request was about, in arrival order."""
        paths = []
        for recorded in self.server.requests:
            if recorded.path != "/v1/chat/completions":
                continue
            text = " ".join(str(m.get("content", "")) for m in recorded.body["messages"])
            found = _FILE_PATH.search(text)
            paths.append(found.group(1) if found else "?")
        return paths

    # -- what the store holds ----------------------------------------------------------

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.database_path)) as connection:
            return connection.execute(sql, parameters).fetchall()

    def paused_providers(self, now_ns: int) -> list[str]:
        """The providers no process may call at `now_ns` (a 429's pause)."""
        rows = self._query(
            "SELECT provider_name FROM provider_pauses WHERE until_ns > ? ORDER BY 1", (now_ns,)
        )
        return [str(row[0]) for row in rows]

    def rows(self, path: str | None = None) -> list[RequestRow]:
        """Every stored request (for `path` only, if given), oldest first."""
        names = [name for name in RequestRow.__dataclass_fields__]
        where = "" if path is None else " WHERE path = ?"
        found = self._query(
            f"SELECT {', '.join(names)} FROM frame_requests{where} ORDER BY request_id",
            () if path is None else (path,),
        )
        return [RequestRow(**dict(zip(names, row, strict=True))) for row in found]

    def query_owner(self, path: str) -> str:
        """The owner holding the lease of the live request for `path`."""
        rows = self._query(
            "SELECT lease_owner FROM frame_requests WHERE path = ? AND state = 'processing'",
            (path,),
        )
        assert len(rows) == 1 and rows[0][0], rows
        return str(rows[0][0])

    def row(self, path: str) -> RequestRow:
        """The newest stored request for `path`."""
        rows = self.rows(path)
        assert rows, f"no request is stored for {path}"
        return rows[-1]

    def is_at(self, path: str, state: str, *, attempts: int | None = None) -> bool:
        """Whether the newest request for `path` exists and is in `state` (after
        `attempts` attempts, if given)."""
        rows = self.rows(path)
        if not rows:
            return False
        return rows[-1].state == state and attempts in (None, rows[-1].attempts)

    def frame(self, frame_id: str) -> tuple[Frame, FrameMetadata]:
        """A stored frame and its metadata."""
        with app_of(self.workspace) as app:
            frame = app.context.frame(frame_id)
            assert frame is not None, f"frame {frame_id} is not stored"
            return frame, metadata_of(frame)

    def head_id(self, path: str, agent_id: str = AGENT) -> str | None:
        """The id of the head frame of `path`, if any."""
        with app_of(self.workspace) as app:
            head = app.context.head(FrameKey(self.nodes[path].node_id, agent_id, FRAME_TYPE))
            return None if head is None else head.frame_id

    # -- what the queue reported -----------------------------------------------------

    def events(self, event_type: str | None = None) -> list[dict[str, object]]:
        """The data of the events of `event_type` (all events if None), in order."""
        return [data for kind, data in self.sink.events if event_type in (None, kind)]

    def event_paths(self, event_type: str) -> list[object]:
        """The `path` of each event of `event_type`, in order."""
        return [data.get("path") for data in self.events(event_type)]


def provider_settings(server: LlmServer) -> dict[str, ProviderSettings]:
    """The three providers aimed at the test server (see the module docstring)."""

    def remote(name: str, key_env: str) -> ProviderSettings:
        return ProviderSettings(
            name=name,
            type="openai",
            base_url=server.openai_url,
            model=MODEL,
            api_key_env=key_env,
            timeout_s=2.0,
            max_tokens=64,
        )

    return {
        REMOTE: remote(REMOTE, KEY_ENV),
        REMOTE_B: remote(REMOTE_B, KEY_ENV),
        BAD_KEY_PROVIDER: remote(BAD_KEY_PROVIDER, BAD_KEY_ENV),
    }


def probe_agent() -> AgentSettings:
    """A second writer agent, with limits of its own."""
    return AgentSettings(
        agent_id=PROBE_AGENT,
        role="writer",
        system_prompt="You write probe notes.",
        user_prompt_file="Describe {path}.",
        user_prompt_directory="Describe the directory {path}.",
    )


@contextmanager
def queue_bench(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    *,
    files: Mapping[str, bytes | str] = FILES,
    default: Reply | None = None,
) -> Iterator[QueueBench]:
    """A scanned workspace and a running test server that accepts `API_KEY` only."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(BAD_KEY_ENV, BAD_API_KEY)
    write_tree(workspace.root, dict(files))
    scan(workspace)
    with app_of(workspace) as app:
        nodes = {}
        for path, entry in app.store.nodes.load_tree().items():
            record = app.store.nodes.get(entry.node_id)
            assert record is not None
            nodes[path] = record
    with LlmServer(models={MODEL}, api_key=API_KEY, default=default) as server:
        bench = QueueBench(workspace=workspace, server=server, nodes=nodes)
        with bench.app() as app:
            # Keys known to work, as after an earlier run: the scenarios' first calls go
            # together rather than one first to check the key.
            for name in (REMOTE, REMOTE_B):
                verified = fingerprint(app.providers.settings(name))
                app.store.credentials.settle(name, verified, state="verified")
        yield bench


@asynccontextmanager
async def running_queue(
    bench: QueueBench,
    *,
    limits: Mapping[str, AgentLimits] | None = None,
    settings: QueueSettings | None = None,
    clock: Callable[[], int] = time.time_ns,
    seed: int = 0,
    busy_timeout_ms: int | None = None,
) -> AsyncIterator[FrameGenerationQueue]:
    """A started queue whose generator calls the bench's server; stopped and closed on exit."""
    with bench.app(busy_timeout_ms=busy_timeout_ms) as app:
        async with (
            app.frame_writer(sink=bench.sink) as writer,
            app.running_queue(
                writer,
                limits=limits or {},
                settings=settings or fast_settings(),
                sink=bench.sink,
                clock_ns=clock,
                rng=random.Random(seed),
            ) as queue,
        ):
            yield queue


def run_scenario(scenario: Coroutine[Any, Any, None]) -> None:
    """Run `scenario` in a fresh event loop, as `asyncio.run` does.

    A failing scenario can leave tasks that ended with an error nobody
    awaited; their "exception was never retrieved" report would then fire
    from a garbage collection in some later test. Every task's outcome is
    therefore collected here once the scenario ends.
    """
    tasks: list[asyncio.Task[Any]] = []

    def keep(loop: asyncio.AbstractEventLoop, coro: Any, context: Any = None) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, context=context)
        tasks.append(task)
        return task

    async def main() -> None:
        asyncio.get_running_loop().set_task_factory(keep)
        try:
            await scenario
        finally:
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()

    asyncio.run(main())


async def until(condition: Callable[[], bool], *, what: str, timeout_s: float = 5.0) -> None:
    """Return once `condition()` holds; fail naming `what` after `timeout_s`.

    This polls an observable state; it never stands in for one.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.005)


async def server_received(server: LlmServer, count: int, timeout_s: float = 5.0) -> None:
    """Return once the server has received `count` requests."""
    arrived = await asyncio.to_thread(server.wait_for_requests, count, timeout_s)
    assert arrived, f"the server received {len(server.requests)} requests, not {count}"


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    """Whether `wanted` appears in `seen` in order (other items may come between)."""
    remaining = iter(seen)
    return all(item in remaining for item in wanted)


def event_text(bench: QueueBench) -> str:
    """Every event's data, as one JSON text."""
    return json.dumps([[kind, data] for kind, data in bench.sink.events], default=str)
