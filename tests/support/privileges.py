"""Run a subprocess that file permissions really apply to, even when the tests run as root.

Root ignores file permissions through two capabilities, CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH. A process started through `setpriv` with both dropped
from its bounding and inheritable sets cannot regain them across `exec`, so a
mode-000 file is as unreadable to it as to any other user. Not as root, no
capability is involved and the command runs as it is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.cli import CliResult, merkle_executable

_DROPPED = "-dac_override,-dac_read_search"


def unprivileged(argv: list[str]) -> list[str]:
    """`argv` to run without the capabilities that bypass file permissions."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError("running as root needs setpriv (util-linux) to drop capabilities")
    return [setpriv, f"--bounding-set={_DROPPED}", f"--inh-caps={_DROPPED}", *argv]


def can_open_unprivileged(path: Path) -> bool:
    """Whether an unprivileged subprocess can read the file or list the directory at `path`."""
    probe = (
        "import os, sys; p = sys.argv[1]\n"
        "os.listdir(p) if os.path.isdir(p) else open(p, 'rb').close()"
    )
    completed = subprocess.run(
        unprivileged([sys.executable, "-c", probe, str(path)]),
        capture_output=True,
        check=False,
        timeout=30,
    )
    return completed.returncode == 0


def run_merkle_unprivileged(*args: str, cwd: Path, timeout_s: float = 60) -> CliResult:
    """Run `merkle ARGS` in `cwd` without the capabilities that bypass file permissions."""
    environment = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    completed = subprocess.run(
        unprivileged([merkle_executable(), *args]),
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
