"""A live progress display for `merkle context generate`, fed by the run's events."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class GenerateProgress:
    """An event sink that draws levels, done/failed/total and the nodes in flight."""

    def __init__(self, console: Console, *, total: int, levels: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("generating", total=total, failed="")
        self._levels = levels
        self._level = 0
        self._failed = 0
        self._current: dict[str, None] = {}

    def __enter__(self) -> GenerateProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def emit(self, event_type: str, data: Mapping[str, object]) -> None:
        """Update the display from one event."""
        path = str(data.get("path", ""))
        if event_type == "level_started":
            self._level = int(str(data.get("level", 0))) + 1
        elif event_type == "node_generation_started":
            self._current[path] = None
        elif event_type in ("node_generation_completed", "node_generation_failed"):
            self._current.pop(path, None)
            self._progress.advance(self._task)
            if event_type == "node_generation_failed":
                self._failed += 1
        elif event_type != "provider_request_retrying":
            return
        current = ", ".join(list(self._current)[:3])
        more = f" +{len(self._current) - 3}" if len(self._current) > 3 else ""
        self._progress.update(
            self._task,
            description=f"level {self._level}/{self._levels}  {current}{more}",
            failed=f"[red]{self._failed} failed[/]" if self._failed else "",
        )
