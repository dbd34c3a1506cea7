"""Sessions in the store: the writer, the reader, follow, replay, prune, interrupted.

Everything runs against a real SQLite database in the test's temporary
directory and reads back what was stored. The multi-process tests start
`tests/support/event_worker.py` as a real process and step it through its
stdin; waits are bounded polls of the store or of the worker's output, never
a fixed sleep. Only clocks are faked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from merkle.metadata.redaction import redact
from merkle.store import EventRow, StorageBackend, open_store
from merkle.telemetry.bus import EventBus
from merkle.telemetry.model import Event, format_ts
from merkle.telemetry.reader import SessionReader, SessionStatus
from merkle.telemetry.state import NodeStatus, SessionState
from merkle.telemetry.writer import SessionWriter
from tests.support.apps import backend
from tests.support.line_worker import LineWorker

pytestmark = pytest.mark.timeout(60)

WORKER_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "event_worker.py"
# Interpreter start-up and imports, on a loaded machine.
START_TIMEOUT_S = 30.0
STEP_TIMEOUT_S = 10.0
POLL_S = 0.01
KNOWN_NS = 1_763_759_643_123_456_789  # 2025-11-21T21:14:03.123456789Z
MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
FAKE_ANTHROPIC_KEY = "sk-ant-api03-Zq8vT2mLk9PwR4nB7cXy1dFgHj"
FAKE_GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5" * 4


def frozen(time_ns: int) -> Callable[[], int]:
    """A clock that always reads `time_ns`."""
    return lambda: time_ns


def stored_events(database_path: Path, session_id: str) -> list[tuple[int, str, str, Any]]:
    """(seq, ts, type, data) of every stored event of the session, read with plain SQL."""
    with closing(sqlite3.connect(database_path)) as connection:
        rows = connection.execute(
            "SELECT seq, ts, type, data FROM events WHERE session_id = ? ORDER BY seq",
            (session_id,),
        ).fetchall()
    return [(seq, ts, kind, json.loads(data)) for seq, ts, kind, data in rows]


def stored_session(database_path: Path, session_id: str) -> tuple[Any, ...] | None:
    """(command, owner, started_at_ns, ended_at_ns, outcome, last_seq) as stored."""
    with closing(sqlite3.connect(database_path)) as connection:
        row: tuple[Any, ...] | None = connection.execute(
            "SELECT command, owner, started_at_ns, ended_at_ns, outcome, last_seq"
            " FROM sessions WHERE session_id = ?",
            (session_id,),
        ).fetchone()
    return row


def wait_until(
    condition: Callable[[], bool], *, what: str, timeout_s: float = STEP_TIMEOUT_S
) -> None:
    """Poll `condition` until it holds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_S)


class FakeClock:
    """A monotonic clock that moves only when the follower sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class EventWorker(LineWorker):
    """One `event_worker.py` process; killed, if it still runs, when its block ends."""

    def __init__(self, database_path: Path) -> None:
        super().__init__(WORKER_SCRIPT, str(database_path))
        self.session_id = ""

    def next_document(self, timeout_s: float = STEP_TIMEOUT_S) -> dict[str, Any]:
        """The next JSON line the worker prints."""
        return super().next_document(timeout_s)

    def ready(self) -> str:
        """Wait until the session is started (its `session_started` committed); its id."""
        document = self.next_document(START_TIMEOUT_S)
        assert document.get("ready") is True, document
        self.session_id = str(document["session"])
        return self.session_id

    def emit(self, count: int) -> int:
        """Have the worker emit `count` events; the last index it emitted."""
        self.send(f"emit {count}")
        document = self.next_document()
        return int(document["emitted"])

    def kill(self) -> None:
        """SIGKILL, and reap it: a zombie still counts as a live process."""
        self.process.kill()
        assert self.process.wait(timeout=10) == -signal.SIGKILL


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    path = tmp_path / "merkle.db"
    open_store(path, create=True).close()
    return path


@pytest.fixture
def connect(database_path: Path) -> Callable[[], StorageBackend]:
    """What a writer opens its own connection to the store with."""
    return partial(open_store, database_path)


@pytest.fixture
def store(database_path: Path) -> Iterator[StorageBackend]:
    with backend(database_path) as opened:
        yield opened


# What the writer stores


def test_ten_events_are_stored_between_session_started_and_session_ended(
    database_path: Path, connect: Callable[[], StorageBackend], store: StorageBackend
) -> None:
    writer = SessionWriter(connect, command="context generate", clock_ns=frozen(KNOWN_NS))
    started = writer.start({"target": "src"})
    bus = EventBus(writer)
    for index in range(1, 11):
        bus.emit("step", {"index": index, "path": Path(f"src/f{index}.py")})
    ended = writer.end("completed", {"generated": 10})
    session_id = writer.session_id
    ts = "2025-11-21T21:14:03.123Z"

    start_data = {"command": "context generate", "target": "src"}
    end_data = {"generated": 10, "outcome": "completed"}
    assert started == Event(ts, session_id, 1, "session_started", start_data)
    assert ended == Event(ts, session_id, 12, "session_ended", end_data)
    assert stored_events(database_path, session_id) == [
        (1, ts, "session_started", start_data),
        *[(i + 1, ts, "step", {"index": i, "path": f"src/f{i}.py"}) for i in range(1, 11)],
        (12, ts, "session_ended", end_data),
    ]
    row = stored_session(database_path, session_id)
    assert row is not None
    command, owner, started_ns, ended_ns, outcome, last_seq = row
    assert (command, started_ns, ended_ns, outcome, last_seq) == (
        "context generate", KNOWN_NS, KNOWN_NS, "completed", 12,
    )  # fmt: skip
    assert owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    reader = SessionReader(store)
    info = reader.get(session_id[:20])
    assert (info.session_id, info.status, info.outcome, info.events) == (
        session_id, SessionStatus.COMPLETED, "completed", 12,
    )  # fmt: skip
    assert (info.started_at, info.ended_at) == (ts, ts)
    assert reader.events(session_id)[0] == started
    assert reader.events(session_id, after_seq=11) == [ended]
    # Ended means closed: a late event is refused, and the bus counts it lost.
    bus.emit("step", {"index": 11})
    assert bus.failures == 1
    assert len(stored_events(database_path, session_id)) == 12


def test_seq_has_no_gap_when_threads_emit_through_one_bus(
    database_path: Path, connect: Callable[[], StorageBackend]
) -> None:
    threads_count, per_thread = 8, 100
    writer = SessionWriter(connect, command="threads", flush_interval_s=0.005)
    writer.start()
    bus = EventBus(writer)
    seen: list[Event] = []
    bus.subscribe(seen.append)
    gate = threading.Barrier(threads_count)

    def emit_all(thread: int) -> None:
        gate.wait(timeout=10)
        for index in range(per_thread):
            bus.emit("step", {"thread": thread, "index": index})

    threads = [threading.Thread(target=emit_all, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    writer.end("completed")
    total = threads_count * per_thread + 2

    stored = stored_events(database_path, writer.session_id)
    assert [seq for seq, *_ in stored] == list(range(1, total + 1))
    assert (stored[0][2], stored[-1][2]) == ("session_started", "session_ended")
    assert {kind for _, _, kind, _ in stored[1:-1]} == {"step"}
    # Subscribers get the bus's events (not the writer's start and end), in seq order.
    assert [event.seq for event in seen] == list(range(2, total))
    assert [(e.seq, e.data) for e in seen] == [(seq, data) for seq, _, _, data in stored[1:-1]]
    # Each thread's events keep the order it emitted them in.
    for number in range(threads_count):
        indexes = [data["index"] for _, _, _, data in stored if data.get("thread") == number]
        assert indexes == list(range(per_thread))
    assert bus.failures == 0
    assert writer.error is None


# Follow, replay, interrupted


def test_follow_sees_each_event_of_another_process_while_it_runs(database_path: Path) -> None:
    with EventWorker(database_path) as worker, backend(database_path) as store:
        session_id = worker.ready()
        reader = SessionReader(store)
        follow = reader.follow(session_id, poll_s=POLL_S, timeout_s=START_TIMEOUT_S)
        first = next(follow, None)
        assert first is not None and (first.seq, first.type) == (1, "session_started")
        assert first.data["pid"] == worker.process.pid

        for index in range(1, 6):
            worker.send("emit 1")
            event = next(follow, None)
            assert event is not None, f"follow ended before event {index}: {worker.stderr()}"
            assert (event.seq, event.type, event.data) == (index + 1, "step", {"index": index})
            # The writer has not ended: it waits for its next line.
            assert worker.process.poll() is None
            assert reader.status(session_id) is SessionStatus.RUNNING
            assert worker.next_document() == {"emitted": index}

        assert worker.emit(3) == 8
        batch = [next(follow, None) for _ in range(3)]
        assert [(e.seq, e.data["index"]) for e in batch if e is not None] == [
            (7, 6),
            (8, 7),
            (9, 8),
        ]
        assert worker.process.poll() is None

        worker.send("end")
        last = next(follow, None)
        assert last is not None and (last.seq, last.type) == (10, "session_ended")
        assert next(follow, None) is None  # follow stops after session_ended
        assert worker.next_document() == {"ended": True}
        assert worker.process.wait(timeout=STEP_TIMEOUT_S) == 0, worker.stderr()
        assert reader.status(session_id) is SessionStatus.COMPLETED


def test_follow_from_a_seq_and_its_timeout(
    connect: Callable[[], StorageBackend], store: StorageBackend
) -> None:
    writer = SessionWriter(connect, command="quiet", clock_ns=frozen(KNOWN_NS))
    writer.start()
    try:
        bus = EventBus(writer)
        for index in range(3):
            bus.emit("step", {"index": index})
        reader = SessionReader(store, clock_ns=frozen(KNOWN_NS))
        wait_until(lambda: len(reader.events(writer.session_id)) == 4, what="4 stored events")
        clock = FakeClock()
        follow = reader.follow(
            writer.session_id,
            after_seq=2,
            poll_s=0.25,
            timeout_s=1.0,
            sleep=clock.sleep,
            clock=clock.monotonic,
        )
        assert [event.seq for event in follow] == [3, 4]
        # Nothing more came: the running session was polled until the timeout.
        assert clock.sleeps == [0.25] * 4
    finally:
        writer.close()


REPLAYED_SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("plan_constructed", {"plan_id": "p", "total_nodes": 3, "total_levels": 2}),
    ("level_started", {"level": 0, "total": 2}),
    ("node_generation_started", {"path": "a.py", "level": 0}),
    ("node_generation_started", {"path": "b.py", "level": 0}),
    ("provider_request_sent", {"path": "a.py", "attempt": 1}),
    ("provider_request_sent", {"path": "b.py", "attempt": 1}),
    ("provider_request_retrying", {"path": "a.py", "error_class": "rate_limited",
                                   "message": "429", "delay_s": 0.5}),
    ("provider_response_received", {"path": "b.py", "latency_ms": 210}),
    ("node_generation_completed", {"path": "b.py"}),
    ("provider_request_sent", {"path": "a.py", "attempt": 2}),
    ("provider_request_failed", {"path": "a.py", "error_class": "timeout", "message": "slow"}),
    ("node_generation_failed", {"path": "a.py"}),
    ("level_completed", {"level": 0, "generated": 1, "failed": 1}),
    ("generation_failed", {"total_generated": 1, "total_failed": 1, "error": "a.py failed"}),
]  # fmt: skip


def test_replay_of_the_stored_session_equals_the_live_state(
    connect: Callable[[], StorageBackend], store: StorageBackend
) -> None:
    writer = SessionWriter(connect, command="context generate")
    live = SessionState()
    live.apply(writer.start({"target": "."}))
    bus = EventBus(writer)
    bus.subscribe(live.apply)
    for kind, data in REPLAYED_SCRIPT:
        bus.emit(kind, data)
    ended = writer.end("failed")
    assert ended is not None
    live.apply(ended)

    replayed = SessionReader(store).replay(writer.session_id)
    assert replayed == live
    # Not two empty states: the run is there.
    assert (replayed.last_seq, replayed.outcome) == (16, "failed")
    assert replayed.command == "context generate"
    assert {p: n.status for p, n in replayed.nodes.items()} == {
        "a.py": NodeStatus.FAILED,
        "b.py": NodeStatus.DONE,
    }
    assert (replayed.latencies_ms, len(replayed.retries), len(replayed.failures)) == ([210], 1, 1)


def test_a_killed_writer_leaves_an_interrupted_session_that_stays_readable(
    database_path: Path, store: StorageBackend
) -> None:
    reader = SessionReader(store)
    with EventWorker(database_path) as worker:
        session_id = worker.ready()
        assert worker.emit(3) == 3
        wait_until(lambda: len(reader.events(session_id)) == 4, what="the 3 events stored")
        # Its process lives: running, although nothing has come for a while.
        assert reader.get(session_id).status is SessionStatus.RUNNING
        assert reader.current() == reader.get(session_id)
        worker.kill()

    info = reader.get(session_id)
    assert (info.status, info.outcome, info.ended_at, info.events) == (
        SessionStatus.INTERRUPTED, None, None, 4,
    )  # fmt: skip
    events = reader.events(session_id)
    assert [(e.seq, e.type, e.data.get("index")) for e in events] == [
        (1, "session_started", None), (2, "step", 1), (3, "step", 2), (4, "step", 3),
    ]  # fmt: skip
    state = reader.replay(session_id)
    assert (state.last_seq, state.command, state.ended) == (4, "worker", False)
    # A follower of an interrupted session gets what is stored, then stops at
    # once: it neither polls nor waits for its timeout.
    clock = FakeClock()
    follow = reader.follow(session_id, timeout_s=1.0, sleep=clock.sleep, clock=clock.monotonic)
    assert list(follow) == events
    follow = reader.follow(
        session_id, after_seq=2, timeout_s=1.0, sleep=clock.sleep, clock=clock.monotonic
    )
    assert list(follow) == events[2:]
    assert clock.sleeps == []


# Pruning

NOW_NS = KNOWN_NS
COMPLETED_STARTS = {
    "c1": NOW_NS - 10 * DAY_NS,
    "c2": NOW_NS - 3 * DAY_NS,
    "c3": NOW_NS - HOUR_NS,
    "c4": NOW_NS - MINUTE_NS,
}


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    assert process.wait(timeout=START_TIMEOUT_S) == 0
    return process.pid


@pytest.fixture
def mixed_sessions(
    connect: Callable[[], StorageBackend], store: StorageBackend, dead_pid: int
) -> Iterator[dict[str, str]]:
    """Four completed sessions (c1 oldest .. c4 newest), one running and one
    interrupted, both older than every completed one; name -> session id."""
    ids: dict[str, str] = {}
    for name, started_ns in COMPLETED_STARTS.items():
        writer = SessionWriter(connect, command=name, clock_ns=frozen(started_ns))
        writer.start()
        EventBus(writer).emit("step", {"name": name})
        writer.end("completed")
        ids[name] = writer.session_id
    running = SessionWriter(connect, command="running", clock_ns=frozen(NOW_NS - 30 * DAY_NS))
    running.start()
    ids["running"] = running.session_id
    store.events.beat(running.session_id, NOW_NS)  # it still runs: a fresh heartbeat
    interrupted_ns = NOW_NS - 40 * DAY_NS
    ids["interrupted"] = "20251012T211403-00000dead0"
    events = store.events
    assert events.create_session(
        ids["interrupted"],
        command="interrupted",
        owner=f"{socket.gethostname()}:{dead_pid}:x",
        started_at_ns=interrupted_ns,
    )
    events.append(
        [EventRow(ids["interrupted"], 1, format_ts(interrupted_ns), "session_started", "{}")],
        now_ns=interrupted_ns,
    )
    try:
        yield ids
    finally:
        running.close()


def event_counts(database_path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(database_path)) as connection:
        rows = connection.execute(
            "SELECT session_id, COUNT(*) FROM events GROUP BY session_id"
        ).fetchall()
    return dict(rows)


@pytest.mark.parametrize(
    ("keep", "older_than_s", "pruned"),
    [
        pytest.param(1, None, {"c1", "c2", "c3"}, id="keep 1"),
        pytest.param(0, None, {"c1", "c2", "c3", "c4"}, id="keep 0"),
        pytest.param(None, 2 * 24 * 3600, {"c1", "c2"}, id="older than 2 days"),
        pytest.param(None, 30, {"c1", "c2", "c3", "c4"}, id="older than 30 s"),
        # Either rule condemns a session: c1 by count, c2 by age.
        pytest.param(3, 2 * 24 * 3600, {"c1", "c2"}, id="keep 3 or older than 2 days"),
        pytest.param(None, None, set(), id="no rule"),
    ],
)
def test_prune_removes_completed_sessions_only(
    database_path: Path,
    store: StorageBackend,
    mixed_sessions: dict[str, str],
    keep: int | None,
    older_than_s: float | None,
    pruned: set[str],
) -> None:
    ids = mixed_sessions
    reader = SessionReader(store, clock_ns=frozen(NOW_NS))
    assert {info.session_id: info.status for info in reader.sessions()} == {
        **{ids[name]: SessionStatus.COMPLETED for name in COMPLETED_STARTS},
        ids["running"]: SessionStatus.RUNNING,
        ids["interrupted"]: SessionStatus.INTERRUPTED,
    }
    counts_before = event_counts(database_path)
    # Completed: started, one step, ended; the others: started only.
    assert counts_before == {ids[name]: 3 if name in COMPLETED_STARTS else 1 for name in ids}

    result = reader.prune(keep=keep, older_than_s=older_than_s, now_ns=NOW_NS)

    assert set(result.deleted) == {ids[name] for name in pruned}
    assert (result.kept_running, result.kept_interrupted) == (1, 1)
    kept = {name for name in ids if name not in pruned}
    assert {info.session_id for info in reader.sessions()} == {ids[name] for name in kept}
    assert event_counts(database_path) == {ids[name]: counts_before[ids[name]] for name in kept}
    for name in pruned:
        assert stored_session(database_path, ids[name]) is None
        assert reader.status(ids[name]) is None
    assert reader.get(ids["running"]).status is SessionStatus.RUNNING
    assert reader.get(ids["interrupted"]).status is SessionStatus.INTERRUPTED


# Credentials


def test_a_credential_in_event_data_is_redacted_before_it_is_stored(
    database_path: Path, connect: Callable[[], StorageBackend]
) -> None:
    writer = SessionWriter(connect, command="context generate")
    writer.start()
    bus = EventBus(writer, scrub=lambda text: redact(text)[0])
    seen: list[Event] = []
    bus.subscribe(seen.append)
    bus.emit(
        "provider_request_failed",
        {
            "path": "src/a.py",
            "error_class": "auth",
            "message": f"401: invalid x-api-key {FAKE_ANTHROPIC_KEY} for this request",
            "attempts": [{"header": f"Authorization: Bearer {FAKE_GITHUB_TOKEN}"}],
        },
    )
    writer.end("failed")

    with closing(sqlite3.connect(database_path)) as connection:
        [(raw,)] = connection.execute(
            "SELECT data FROM events WHERE session_id = ? AND type = 'provider_request_failed'",
            (writer.session_id,),
        ).fetchall()
    for secret in (FAKE_ANTHROPIC_KEY, FAKE_GITHUB_TOKEN, FAKE_ANTHROPIC_KEY[12:]):
        assert secret not in raw
    data = json.loads(raw)
    assert data["message"] == "401: invalid x-api-key [REDACTED] for this request"
    assert "[REDACTED]" in data["attempts"][0]["header"]
    assert (data["path"], data["error_class"]) == ("src/a.py", "auth")
    # Subscribers get the redacted event too: a display never shows the secret.
    assert [dict(event.data) for event in seen] == [data]


# Heartbeats


@pytest.mark.parametrize(
    ("owner", "silent_s", "status"),
    [
        pytest.param("elsewhere:1:x", 5, SessionStatus.RUNNING, id="another host, beating"),
        pytest.param("elsewhere:1:x", 120, SessionStatus.INTERRUPTED, id="another host, silent"),
        pytest.param(None, 120, SessionStatus.INTERRUPTED, id="a live pid, silent (reused)"),
    ],
)
def test_a_session_whose_heartbeat_stopped_is_interrupted(
    store: StorageBackend, owner: str | None, silent_s: int, status: SessionStatus
) -> None:
    events = store.events
    # A pid that runs (this one, seen from a reader that is not its writer).
    owner = owner or f"{socket.gethostname()}:{os.getppid()}:x"
    assert events.create_session("s-1", command="c", owner=owner, started_at_ns=KNOWN_NS)
    events.beat("s-1", KNOWN_NS + 10**9)
    reader = SessionReader(store, clock_ns=frozen(KNOWN_NS + 10**9 + silent_s * 10**9))

    assert reader.get("s-1").status is status
    assert [event.seq for event in reader.follow("s-1", timeout_s=0)] == []
