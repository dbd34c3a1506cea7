"""Run the real `merkle` entry point in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def merkle_executable() -> str:
    """The `merkle` console script installed beside the running interpreter."""
    candidate = Path(sys.executable).parent / "merkle"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("merkle")
    if found is None:
        raise RuntimeError("the merkle console script is not installed; run pip install -e .")
    return found


@dataclass(frozen=True)
class CliResult:
    """What one run of the command printed, and its exit status."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as one JSON document."""
        return json.loads(self.stdout)


def run_merkle(
    *args: str | os.PathLike[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 60,
    **popen: Any,
) -> CliResult:
    """Run `merkle ARGS` in `cwd` and capture its output (no terminal: no progress bars)."""
    environment = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    completed = subprocess.run(
        [merkle_executable(), *map(str, args)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        check=False,
        **popen,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
