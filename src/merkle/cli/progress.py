"""A Rich progress display for a scan: files walked, then bytes hashed."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class ScanProgressBar:
    """Shows the walk as a running count, then the hashing as a bar over its bytes."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._walk: TaskID = self._progress.add_task("walking", total=None)
        self._hash: TaskID | None = None

    def __enter__(self) -> ScanProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def walked(self, files: int) -> None:
        self._progress.update(self._walk, description=f"walking: {files:,} files")

    def hashing(self, *, files: int, size_bytes: int) -> None:
        self._progress.update(self._walk, visible=False)
        self._hash = self._progress.add_task(f"hashing {files:,} files", total=size_bytes)

    def hashed(self, size_bytes: int) -> None:
        if self._hash is not None:
            self._progress.advance(self._hash, size_bytes)
