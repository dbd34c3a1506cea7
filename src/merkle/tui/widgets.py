"""The panes of the monitor: levels with progress bars, the node table, the
summaries, and the history screen.

Every pane is updated in place from a `SessionState`: the node table changes
only the cells of the nodes that new events mentioned, so a large run does
not rebuild the table on every poll.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar, Static

from merkle.telemetry.reader import SessionInfo
from merkle.telemetry.state import LevelView, NodeStatus, NodeView, Problem, SessionState

NODE_COLUMNS = ("path", "level", "status", "attempts", "latency", "message")
MESSAGE_WIDTH = 120  # the table keeps one line per node; the problems pane has it all
PROBLEMS_SHOWN = 20  # the newest retries and failures; the counts say how many in all

_STATUS_STYLES = {
    NodeStatus.WAITING: "dim",
    NodeStatus.SENDING: "cyan",
    NodeStatus.RETRYING: "yellow",
    NodeStatus.DONE: "green",
    NodeStatus.FAILED: "bold red",
}


class LevelRow(Horizontal):
    """One level: its name, a progress bar (done + failed of total) and the counts."""

    DEFAULT_CSS = """
    LevelRow { height: 1; }
    LevelRow > .level-name { width: 10; }
    LevelRow > ProgressBar { width: auto; }
    LevelRow > .level-counts { width: 1fr; padding-left: 2; }
    """

    def __init__(self, level: LevelView) -> None:
        super().__init__()
        self.level = level
        self.bar = ProgressBar(show_eta=False)
        self._title = Label(classes="level-name")
        self._counts = Label(classes="level-counts")
        self.show(level)

    def compose(self) -> ComposeResult:
        yield self._title
        yield self.bar
        yield self._counts

    def show(self, level: LevelView) -> None:
        """Draw `level`; a level not started yet has no total to measure against."""
        self.level = level
        self._title.update(f"level {level.index}")
        self.bar.update(total=level.total or None, progress=level.done + level.failed)
        self.bar.display = level.started or level.total > 0
        self._counts.update(level_counts(level))


def level_counts(level: LevelView) -> str:
    """`3/5 done, 1 failed`, or where a level not started stands."""
    if not level.started and not level.total:
        return "pending"
    text = f"{level.done}/{level.total} done"
    if level.failed:
        text += f", {level.failed} failed"
    return text + (" ✓" if level.completed else "")


class LevelsPane(VerticalScroll):
    """One `LevelRow` per level of the plan, reused when the session changes."""

    DEFAULT_CSS = """
    LevelsPane { height: auto; max-height: 12; }
    """

    def __init__(self) -> None:
        super().__init__(id="levels")
        self.rows: list[LevelRow] = []

    def sync(self, levels: Sequence[LevelView]) -> None:
        """Show `levels`: update the rows there are, add or drop the difference."""
        for row, level in zip(self.rows, levels, strict=False):
            row.show(level)
        added = [LevelRow(level) for level in levels[len(self.rows) :]]
        surplus = self.rows[len(levels) :]
        self.rows = self.rows[: len(levels)] + added
        if surplus:
            self.remove_children(surplus)
        if added:
            self.mount_all(added)


def node_cells(node: NodeView) -> tuple[str, ...]:
    """The plain cells of a node's row, in `NODE_COLUMNS` order."""
    message = ""
    if node.error_class or node.message:
        message = ": ".join(part for part in (node.error_class, node.message) if part)
    if len(message) > MESSAGE_WIDTH:
        message = message[: MESSAGE_WIDTH - 1] + "…"
    return (
        node.path,
        "" if node.level is None else str(node.level),
        node.status.value,
        str(node.attempts) if node.attempts else "",
        "" if node.latency_ms is None else f"{node.latency_ms} ms",
        message,
    )


class NodesTable(DataTable[Text]):
    """The nodes, one row each keyed by path, updated cell by cell."""

    def __init__(self) -> None:
        super().__init__(id="nodes", cursor_type="row", zebra_stripes=True)
        self._shown: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for column in NODE_COLUMNS:
            self.add_column(column, key=column)

    def reset(self) -> None:
        """Drop every row (another session is about to be shown)."""
        self.clear()
        self._shown.clear()

    def sync(self, state: SessionState, paths: Iterable[str] | None = None) -> None:
        """Bring the rows of `paths` (every node when None) up to date with `state`."""
        for path in state.nodes if paths is None else paths:
            node = state.nodes.get(path)
            if node is not None:
                self._sync_node(node)

    def _sync_node(self, node: NodeView) -> None:
        cells = node_cells(node)
        shown = self._shown.get(node.path)
        if shown is None:
            self.add_row(*self._styled(node, cells), key=node.path)
        else:
            styled = self._styled(node, cells)
            for column, old, new, value in zip(NODE_COLUMNS, shown, cells, styled, strict=True):
                if old != new:
                    self.update_cell(node.path, column, value, update_width=True)
        self._shown[node.path] = cells

    @staticmethod
    def _styled(node: NodeView, cells: tuple[str, ...]) -> list[Text]:
        # Text, not str: a str cell is read as markup, and paths like `[id].tsx` are common.
        styled = [Text(cell) for cell in cells]
        styled[2].stylize(_STATUS_STYLES[node.status])
        return styled


def problems_text(state: SessionState) -> Text:
    """The failures and retries of the run, newest last, with their messages."""
    text = Text()
    text.append(f"failures ({len(state.failures)})\n", style="bold red")
    _append_problems(text, state.failures, "✗")
    text.append(f"\nretries ({len(state.retries)})\n", style="bold yellow")
    _append_problems(text, state.retries, "↻")
    return text


def _append_problems(text: Text, problems: Sequence[Problem], mark: str) -> None:
    if not problems:
        text.append("  none\n", style="dim")
    for problem in problems[-PROBLEMS_SHOWN:]:
        text.append(f"{mark} {problem.path}\n", style="bold")
        delay = f" (retry in {problem.delay_s:g} s)" if problem.delay_s is not None else ""
        text.append(f"  {problem.error_class}: {problem.message}{delay}\n")


class HistoryScreen(Screen[str | None]):
    """The stored sessions, newest first; Enter opens one, Escape goes back."""

    BINDINGS = [  # noqa: RUF012 - Textual reads the class attribute
        Binding("escape", "close", "Back"),
        Binding("h", "close", "Back", show=False),
    ]

    def __init__(self, sessions: Sequence[SessionInfo]) -> None:
        super().__init__()
        self.sessions = list(sessions)

    def compose(self) -> ComposeResult:
        count = len(self.sessions)
        hint = "Enter opens a session, Escape goes back" if count else "no sessions stored yet"
        yield Static(f"sessions ({count}) · {hint}", id="history-title", markup=False)
        table: DataTable[Text] = DataTable(id="history", cursor_type="row", zebra_stripes=True)
        for column in ("session", "command", "status", "outcome", "started", "events"):
            table.add_column(column, key=column)
        for info in self.sessions:
            table.add_row(*map(Text, session_cells(info)), key=info.session_id)
        yield table
        yield Footer()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the chosen session in the live view."""
        event.stop()
        self.dismiss(event.row_key.value)

    def action_close(self) -> None:
        """Back to the live view, showing what it showed."""
        self.dismiss(None)


def session_cells(info: SessionInfo) -> tuple[str, ...]:
    """A session's row in the history table."""
    return (
        info.session_id,
        info.command,
        info.status.value,
        info.outcome or "",
        info.started_at,
        str(info.events),
    )
