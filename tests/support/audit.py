"""Record which paths this process opens or lists, through Python's audit hooks."""

from __future__ import annotations

import os
import sys
from typing import Any

AUDITED_EVENTS = frozenset({"open", "os.scandir", "os.listdir"})


class PathRecorder:
    """Records `(event, absolute path)` for every open or listing while recording is on.

    An audit hook cannot be removed once added, so the process has one recorder
    (`path_recorder()`), which records only between `start` and `stop`.
    """

    def __init__(self) -> None:
        self._paths: list[tuple[str, str]] | None = None
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self._paths is None or event not in AUDITED_EVENTS or not args:
            return
        target = args[0]
        # An integer is a file descriptor: something already opened by path.
        if isinstance(target, str | bytes | os.PathLike):
            self._paths.append((event, os.path.abspath(os.fsdecode(target))))

    def start(self) -> None:
        """Start recording, from nothing."""
        self._paths = []

    def stop(self) -> list[tuple[str, str]]:
        """Stop recording; what was recorded since `start`."""
        paths, self._paths = self._paths or [], None
        return paths


_RECORDER: list[PathRecorder] = []


def path_recorder() -> PathRecorder:
    """The process's one recorder, its hook added on first use."""
    if not _RECORDER:
        _RECORDER.append(PathRecorder())
    return _RECORDER[0]
