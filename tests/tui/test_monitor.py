"""The live monitor, driven headless: sessions are written to a real store with
the real writer and bus, and the tests assert what the widgets show."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from merkle.store import open_store
from merkle.telemetry.bus import EventBus
from merkle.telemetry.reader import SessionReader
from merkle.telemetry.writer import SessionWriter
from merkle.tui.app import MonitorApp
from merkle.tui.widgets import HistoryScreen, LevelRow, LevelsPane, NodesTable
from merkle.workspace.layout import Workspace
from tests.support.apps import app_of

SIZE = (120, 40)
IDLE_POLL_S = 60.0  # the tests poll by hand: the timer never fires during one
STORED_WAIT_S = 5.0


class Run:
    """One session written through the real writer and bus."""

    def __init__(self, database_path: Path, command: str = "generate") -> None:
        # Commit as soon as an event is recorded, so a test waits a few ms at most.
        self.writer = SessionWriter(
            partial(open_store, database_path), command=command, flush_interval_s=0.0
        )
        self.writer.start()
        self.bus = EventBus(self.writer)
        self.seq = 1  # session_started
        self._store = open_store(database_path)
        self._reader = SessionReader(self._store)
        self._ended = False

    @property
    def session_id(self) -> str:
        return self.writer.session_id

    def emit(self, event_type: str, **data: Any) -> None:
        self.bus.emit(event_type, data)
        self.seq += 1

    async def stored(self) -> None:
        """Wait (bounded) until the reader sees every event emitted so far."""
        if self._ended:
            return  # `end` commits everything before it returns
        for _ in range(int(STORED_WAIT_S / 0.005)):
            if self._reader.events(self.session_id, after_seq=self.seq - 1):
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"event {self.seq} of {self.session_id} was never stored")

    def end(self, outcome: str = "succeeded") -> None:
        self.writer.end(outcome)
        self.seq += 1
        self._ended = True
        self._store.close()


def plan(run: Run, *, levels: int = 1, nodes: int = 1) -> None:
    run.emit(
        "generation_started",
        plan_id="p1",
        target_path=".",
        total_nodes=nodes,
        total_levels=levels,
        failure_policy="continue",
    )


def node_started(run: Run, path: str, level: int = 0) -> None:
    run.emit("node_generation_started", plan_id="p1", node_id=path, path=path, level=level)


def request(path: str, attempt: int = 1) -> dict[str, Any]:
    return {
        "request_id": f"r-{path}",
        "path": path,
        "agent_id": "a",
        "provider": "p",
        "attempt": attempt,
    }


def node_done(run: Run, path: str, level: int = 0, latency_ms: int = 120) -> None:
    run.emit("provider_response_received", **request(path), latency_ms=latency_ms)
    ids = {"plan_id": "p1", "node_id": path, "path": path, "level": level}
    run.emit("node_generation_completed", **ids, frame_id="f")


def node_failed(run: Run, path: str, level: int = 0) -> None:
    run.emit(
        "provider_request_failed",
        **request(path),
        error_class="RateLimited",
        message="429 [slow down] too many requests",
        reason="retries exhausted",
    )
    run.emit(
        "node_generation_failed",
        plan_id="p1",
        node_id=path,
        path=path,
        level=level,
        error_class="RateLimited",
        message="429 [slow down] too many requests",
    )


def finished_session(database_path: Path, path: str) -> Run:
    run = Run(database_path)
    plan(run)
    run.emit("level_started", plan_id="p1", level=0, total=1)
    node_started(run, path)
    run.emit("provider_request_sent", **request(path))
    node_done(run, path)
    run.emit("level_completed", plan_id="p1", level=0, generated=1, failed=0, total=1)
    run.end()
    return run


Scenario = Callable[[MonitorApp, Pilot[None]], Awaitable[None]]


def monitor(
    workspace: Workspace, scenario: Scenario, session_id: str | None = None, **kwargs: Any
) -> None:
    """Run `scenario` against a headless monitor of `workspace`'s store."""
    options: dict[str, Any] = {"poll_s": IDLE_POLL_S} | kwargs

    async def go() -> None:
        app = MonitorApp(app_of(workspace), session_id, **options)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(200):  # a loaded machine may not have composed the screen yet
                if app.screen.query(NodesTable):
                    break
                await pilot.pause(0.01)
            await scenario(app, pilot)

    asyncio.run(go())


async def step(app: MonitorApp, pilot: Pilot[None], run: Run) -> None:
    """Let the store have the run's events, poll once, let the widgets settle."""
    await run.stored()
    app.refresh_now()
    await pilot.pause()


def text_of(app: MonitorApp, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


def nodes(app: MonitorApp) -> NodesTable:
    return app.query_one(NodesTable)


def cell(app: MonitorApp, path: str, column: str) -> str:
    return str(nodes(app).get_cell(path, column))


def drawn_row(table: DataTable[Any], index: int) -> str:
    """Row `index` as the table draws it (line 0 is the header)."""
    return table.render_line(index + 1).text


def level_rows(app: MonitorApp) -> list[LevelRow]:
    return app.query_one(LevelsPane).rows


def test_node_status_goes_from_waiting_to_done(workspace: Workspace) -> None:
    database_path = workspace.database_path

    async def scenario(app: MonitorApp, pilot: Pilot[None]) -> None:
        run = Run(database_path)
        plan(run)
        run.emit("level_started", plan_id="p1", level=0, total=1)
        node_started(run, "src/a.py")
        await step(app, pilot, run)
        assert cell(app, "src/a.py", "status") == "waiting"
        assert cell(app, "src/a.py", "attempts") == ""
        assert run.session_id in text_of(app, "#status")
        assert "running" in text_of(app, "#status")

        run.emit("provider_request_sent", **request("src/a.py"))
        await step(app, pilot, run)
        assert cell(app, "src/a.py", "status") == "sending"
        assert cell(app, "src/a.py", "attempts") == "1"

        node_done(run, "src/a.py", latency_ms=250)
        await step(app, pilot, run)
        assert nodes(app).row_count == 1
        row = [str(value) for value in nodes(app).get_row("src/a.py")]
        assert row == ["src/a.py", "0", "done", "1", "250 ms", ""]
        assert "p50 250 · p95 250 · max 250" in text_of(app, "#stats")

        run.end("succeeded")
        await step(app, pilot, run)
        status = text_of(app, "#status")
        assert "completed" in status
        assert "outcome succeeded" in status

    monitor(workspace, scenario)


def test_a_failed_node_shows_its_error(workspace: Workspace) -> None:
    database_path = workspace.database_path

    async def scenario(app: MonitorApp, pilot: Pilot[None]) -> None:
        run = Run(database_path)
        plan(run, nodes=2)
        run.emit("level_started", plan_id="p1", level=0, total=2)
        node_started(run, "src/bad.py")
        node_started(run, "src/ok.py")
        run.emit("provider_request_sent", **request("src/bad.py"))
        run.emit(
            "provider_request_retrying",
            **request("src/bad.py"),
            error_class="Timeout",
            message="read timed out",
            retryable=True,
            delay_s=2.0,
        )
        await step(app, pilot, run)
        assert cell(app, "src/bad.py", "status") == "retrying"
        assert cell(app, "src/bad.py", "message") == "Timeout: read timed out"
        assert "Timeout: read timed out (retry in 2 s)" in text_of(app, "#problems-text")

        run.emit("provider_request_sent", **request("src/bad.py", attempt=2))
        node_failed(run, "src/bad.py")
        await step(app, pilot, run)
        assert cell(app, "src/bad.py", "status") == "failed"
        assert cell(app, "src/bad.py", "attempts") == "2"
        message = "RateLimited: 429 [slow down] too many requests"
        assert cell(app, "src/bad.py", "message") == message
        drawn = drawn_row(nodes(app), nodes(app).get_row_index("src/bad.py"))
        assert "RateLimited: 429 [slow" in drawn  # not eaten as markup (the rest is off screen)
        assert cell(app, "src/ok.py", "status") == "waiting"
        problems = text_of(app, "#problems-text")
        assert "failures (1)" in problems
        assert "✗ src/bad.py" in problems
        assert message in problems
        assert "failed 1" in text_of(app, "#plan")

    monitor(workspace, scenario)


def test_level_progress_follows_level_and_node_events(workspace: Workspace) -> None:
    database_path = workspace.database_path

    async def scenario(app: MonitorApp, pilot: Pilot[None]) -> None:
        run = Run(database_path)
        plan(run, levels=2, nodes=3)
        await step(app, pilot, run)
        rows = level_rows(app)
        assert [row.level.index for row in rows] == [0, 1]
        assert rows[0].bar.total is None
        assert not rows[0].bar.display

        run.emit("level_started", plan_id="p1", level=0, total=2)
        node_started(run, "a.py")
        node_started(run, "b.py")
        await step(app, pilot, run)
        bar = level_rows(app)[0].bar
        assert (bar.total, bar.progress, bar.display) == (2, 0, True)

        node_done(run, "a.py")
        await step(app, pilot, run)
        assert (bar.total, bar.progress) == (2, 1)

        node_failed(run, "b.py")
        run.emit("level_completed", plan_id="p1", level=0, generated=1, failed=1, total=2)
        run.emit("level_started", plan_id="p1", level=1, total=1)
        await step(app, pilot, run)
        assert (bar.total, bar.progress) == (2, 2)
        assert str(level_rows(app)[0].query_one(".level-counts", Static).content) == (
            "1/2 done, 1 failed ✓"
        )
        upper = level_rows(app)[1].bar
        assert (upper.total, upper.progress) == (1, 0)

    monitor(workspace, scenario)


def test_history_opens_an_older_session(workspace: Workspace) -> None:
    database_path = workspace.database_path
    older = finished_session(database_path, "old/only.py")
    newer = finished_session(database_path, "new/only.py")

    async def scenario(app: MonitorApp, pilot: Pilot[None]) -> None:
        assert newer.session_id in text_of(app, "#status")
        assert nodes(app).get_row_index("new/only.py") == 0

        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        history = app.screen.query_one("#history", DataTable)
        ids = [str(history.get_row_at(index)[0]) for index in range(history.row_count)]
        assert ids == [newer.session_id, older.session_id]
        app.refresh_now(force=True)  # the live view keeps drawing behind the history

        await pilot.press("down", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, HistoryScreen)
        status = text_of(app, "#status")
        assert older.session_id in status
        assert "completed" in status
        assert "chosen" in status
        table = nodes(app)
        assert table.row_count == 1
        assert cell(app, "old/only.py", "status") == "done"

        await pilot.press("c")
        await pilot.pause()
        assert newer.session_id in text_of(app, "#status")
        assert [str(table.get_row_at(0)[0])] == ["new/only.py"]

    monitor(workspace, scenario)


def test_an_empty_store_waits_then_follows_a_session_started_later(workspace: Workspace) -> None:
    database_path = workspace.database_path

    async def scenario(app: MonitorApp, pilot: Pilot[None]) -> None:
        assert "waiting for a session" in text_of(app, "#status")
        assert nodes(app).row_count == 0

        run = Run(database_path)  # `start` commits the session before it returns
        for _ in range(100):  # the monitor's own timer must find it
            if run.session_id in text_of(app, "#status"):
                break
            await pilot.pause(0.02)
        assert run.session_id in text_of(app, "#status")

        plan(run)
        node_started(run, "late.py")
        await step(app, pilot, run)
        assert cell(app, "late.py", "status") == "waiting"
        run.end()

    monitor(workspace, scenario, poll_s=0.02)


def test_a_finished_session_stays_until_a_new_run_takes_its_place(
    workspace: Workspace,
) -> None:
    database_path = workspace.database_path
    old = finished_session(database_path, "old.py")

    async def scenario(app: MonitorApp, pilot: Pilot[None]) -> None:
        assert old.session_id in text_of(app, "#status")  # nothing runs: the newest
        live = Run(database_path)
        await step(app, pilot, live)
        assert live.session_id in text_of(app, "#status")
        live.end()
        await step(app, pilot, live)
        assert live.session_id in text_of(app, "#status")  # ended: still shown
        assert "completed" in text_of(app, "#status")

        later = Run(database_path)
        await step(app, pilot, later)
        assert later.session_id in text_of(app, "#status")  # the next run takes over
        await pilot.press("c")
        assert later.session_id in text_of(app, "#status")
        later.end()

    monitor(workspace, scenario)


def test_an_unknown_session_and_unknown_events_do_not_break_it(workspace: Workspace) -> None:
    database_path = workspace.database_path

    async def scenario(app: MonitorApp, pilot: Pilot[None]) -> None:
        assert "no session nope" in text_of(app, "#status")
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        title = app.screen.query_one("#history-title", Static)
        assert "no sessions stored yet" in str(title.content)
        await pilot.press("escape")

        run = Run(database_path)
        run.emit("something_new", path="x.py", whatever=[1, 2])
        node_started(run, "x.py")
        await step(app, pilot, run)
        assert "no session nope" in text_of(app, "#status")  # still asked for another
        await pilot.press("c")
        assert run.session_id in text_of(app, "#status")
        assert cell(app, "x.py", "status") == "waiting"
        run.end()

    monitor(workspace, scenario, session_id="nope")


def test_a_store_it_cannot_read_is_reported(workspace: Workspace) -> None:
    database_path = workspace.database_path
    database_path.write_bytes(b"this is not a database file" * 200)

    async def scenario(app: MonitorApp, pilot: Pilot[None]) -> None:
        assert "cannot read the store" in text_of(app, "#status")
        await pilot.press("h", "c")
        assert not isinstance(app.screen, HistoryScreen)

    monitor(workspace, scenario)
