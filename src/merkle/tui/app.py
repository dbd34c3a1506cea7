"""The live monitor: a session's plan, levels, nodes, latency, problems and queue.

It reads only the store, through the app, so it can watch a run of another
process, be opened before that run starts, or replay one that ended.
New events are polled on a timer and folded into a `SessionState`; the panes
are then updated in place.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from merkle.app import MerkleApp
from merkle.errors import MerkleError
from merkle.telemetry.reader import SessionStatus
from merkle.telemetry.state import SessionState
from merkle.tui.follow import SessionFollower
from merkle.tui.widgets import HistoryScreen, LevelsPane, NodesTable, problems_text

POLL_S = 0.1
HISTORY_LIMIT = 500
WAITING = "waiting for a session (start a command in this workspace; the monitor picks it up)"

_STATUS_STYLES = {
    SessionStatus.RUNNING: "bold cyan",
    SessionStatus.COMPLETED: "bold green",
    SessionStatus.INTERRUPTED: "bold red",
}


class MonitorApp(App[None]):
    """Follows the current session (or `session_id`) in a workspace database."""

    TITLE = "merkle monitor"
    CSS = """
    #status { height: auto; padding: 0 1; background: $boost; }
    #plan { height: auto; padding: 0 1; }
    #main { height: 1fr; }
    #left { width: 1fr; }
    #nodes { height: 1fr; }
    #side { width: 48; border-left: solid $primary-darken-2; }
    #stats { height: auto; padding: 0 1; }
    #problems { height: 1fr; padding: 0 1; }
    """
    BINDINGS = [  # noqa: RUF012 - Textual reads the class attribute
        Binding("q", "quit", "Quit"),
        Binding("h", "history", "History"),
        Binding("c", "current", "Current session"),
    ]

    def __init__(
        self, app: MerkleApp, session_id: str | None = None, *, poll_s: float = POLL_S
    ) -> None:
        super().__init__()
        self.merkle = app
        self.poll_s = poll_s
        self._asked = session_id
        self.follower: SessionFollower | None = None
        self.error: str | None = None  # the last failed read of the store

    def compose(self) -> ComposeResult:
        yield Static(WAITING, id="status", markup=False)
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Static("", id="plan", markup=False)
                yield LevelsPane()
                yield NodesTable()
            with Vertical(id="side"):
                yield Static("", id="stats", markup=False)
                with VerticalScroll(id="problems"):
                    yield Static("", id="problems-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        try:
            reader = self.merkle.sessions()
        except MerkleError as error:
            self._show_status(Text(f"cannot read the store: {error}", style="bold red"))
            return
        self.follower = SessionFollower(reader, self._asked)
        self.refresh_now()
        self.set_interval(self.poll_s, self.refresh_now)

    def on_unmount(self) -> None:
        self.merkle.close()

    def refresh_now(self, *, force: bool = False) -> bool:
        """Poll the store once and redraw what changed; True when something did."""
        if self.follower is None:
            return False
        try:
            changed = self.follower.poll()
        except MerkleError as error:  # a busy or damaged store: show, retry
            changed = self._set_error(str(error))
        else:
            changed = self._set_error(None) or changed
        if changed or force:
            self._redraw(self.follower)
        return changed

    def action_history(self) -> None:
        """The stored sessions, to open one."""
        if self.follower is None:
            return
        if isinstance(self.screen, HistoryScreen):
            self.screen.dismiss(None)
            return
        try:
            sessions = self.follower.reader.sessions(limit=HISTORY_LIMIT)
        except MerkleError as error:
            self.notify(f"cannot list the sessions: {error}", severity="error")
            return
        self.push_screen(HistoryScreen(sessions), callback=self._open)

    def action_current(self) -> None:
        """Follow the current session (the newest running one, else the newest)."""
        if self.follower is None:
            return
        if isinstance(self.screen, HistoryScreen):
            self.screen.dismiss(None)
        self.follower.show_current()
        self.refresh_now(force=True)

    def _open(self, session_id: str | None) -> None:
        if session_id is None or self.follower is None:
            return
        self.follower.open(session_id)
        self.refresh_now(force=True)

    def _set_error(self, error: str | None) -> bool:
        changed, self.error = error != self.error, error
        return changed

    def _main(self) -> Screen[object] | None:
        """The monitor's own screen, with the history pushed over it or not; None while
        the app starts or stops (a timer tick may come then)."""
        stack = self.screen_stack
        if not stack or not stack[0].query(NodesTable):
            return None
        return stack[0]

    def _redraw(self, follower: SessionFollower) -> None:
        main = self._main()
        if main is None:
            return
        nodes = main.query_one(NodesTable)
        if follower.take_switched():
            nodes.reset()
            nodes.sync(follower.state)
            follower.take_touched()
        else:
            nodes.sync(follower.state, sorted(follower.take_touched()))
        state = follower.state
        self._show_status(status_line(follower, self.error))
        main.query_one("#plan", Static).update(plan_text(state))
        main.query_one(LevelsPane).sync(state.levels)
        main.query_one("#stats", Static).update(stats_text(state))
        main.query_one("#problems-text", Static).update(problems_text(state))

    def _show_status(self, text: Text) -> None:
        main = self._main()
        if main is not None:
            main.query_one("#status", Static).update(text)


def status_line(follower: SessionFollower, error: str | None = None) -> Text:
    """Session id, command, status and outcome; or why there is nothing to show."""
    text = Text()
    if follower.session_id is None:
        text.append(follower.problem or WAITING, style="bold yellow")
    else:
        state = follower.state
        text.append(f"session {follower.session_id}", style="bold")
        text.append(f" · {state.command or '?'}")
        if follower.status is not None:
            text.append(" · ")
            text.append(follower.status.value, style=_STATUS_STYLES[follower.status])
        if state.outcome:
            text.append(f" · outcome {state.outcome}")
        text.append(" · following current" if follower.follow_current else " · chosen")
        if follower.problem:
            text.append(f" · {follower.problem}", style="bold red")
    if error:
        text.append(f" · store error: {error}", style="bold red")
    return text


def plan_text(state: SessionState) -> Text:
    """The plan, how many nodes stand where, and the result once there is one."""
    text = Text()
    plan = state.plan
    if plan:
        text.append(f"plan {plan.get('plan_id', '?')}", style="bold")
        text.append(f" · target {plan.get('target_path', '?')}")
        text.append(f" · {plan.get('total_nodes', '?')} nodes")
        text.append(f" · {plan.get('total_levels', '?')} levels")
        if "failure_policy" in plan:
            text.append(f" · policy {plan['failure_policy']}")
    else:
        text.append("no plan yet", style="dim")
    if state.skipped:
        text.append(f" · {state.skipped} skipped")
    counts = " · ".join(f"{name} {count}" for name, count in state.status_counts().items())
    text.append(f"\nnodes: {counts}")
    if state.result:
        result = " · ".join(f"{key} {value}" for key, value in state.result.items())
        text.append(f"\nresult: {result}")
    return text


def stats_text(state: SessionState) -> Text:
    """Provider latency, queue counters and scan progress."""
    text = Text()
    summary = state.latency_summary()
    text.append(f"provider latency, ms ({summary['count']} responses)\n", style="bold")
    if summary["count"]:
        text.append(f"  p50 {summary['p50']:g} · p95 {summary['p95']:g} · max {summary['max']:g}\n")
    for title, values in (("queue", state.queue), ("scan", state.scan)):
        if values:
            text.append(f"{title}\n", style="bold")
            text.append("  " + " · ".join(f"{k} {v}" for k, v in values.items()) + "\n")
    return text


def run_monitor(app: MerkleApp, session_id: str | None = None) -> None:
    """Run the monitor in the terminal until the user quits."""
    MonitorApp(app, session_id).run()
