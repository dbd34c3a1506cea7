"""A Python script run as a real OS process, driven by lines on its stdin and
answering with JSON lines on its stdout.

Every read has a timeout (a thread reads stdout), and the process is killed,
if it still runs, and reaped when the `with` block ends.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self


class LineWorker:
    """`python SCRIPT ARGS` with pipes; use it as a context manager."""

    def __init__(self, script: Path, *args: str, env: dict[str, str] | None = None) -> None:
        # Closed in __exit__, with the process's pipes.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=10)
        finally:
            assert self.process.stdin is not None and self.process.stdout is not None
            with suppress(BrokenPipeError):
                self.process.stdin.close()
            self._reader.join(timeout=10)
            self.process.stdout.close()
            self._stderr.close()

    def stderr(self) -> str:
        """What the worker wrote on stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read()

    def send(self, line: str) -> None:
        """Write one line to the worker's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def next_document(self, timeout_s: float) -> dict[str, Any]:
        """The next JSON line the worker prints."""
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(
                f"the worker printed nothing within {timeout_s} s; stderr:\n{self.stderr()}"
            ) from None
        if line is None:
            raise AssertionError(
                f"the worker exited ({self.process.wait()}) without output;"
                f" stderr:\n{self.stderr()}"
            )
        document: dict[str, Any] = json.loads(line)
        return document
