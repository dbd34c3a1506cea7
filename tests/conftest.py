"""Fixtures shared by every test: workspaces in temporary directories, the real CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from merkle.workspace.init import init_workspace
from merkle.workspace.layout import Workspace
from tests.support.cli import CliResult, run_merkle


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh, initialised, empty workspace."""
    root = tmp_path / "ws"
    root.mkdir()
    return init_workspace(root).workspace


@pytest.fixture
def merkle(tmp_path: Path) -> Callable[..., CliResult]:
    """Run the real `merkle` command; `cwd` defaults to the test's temporary directory."""

    def run(*args: str, cwd: Path | None = None, **kwargs: object) -> CliResult:
        return run_merkle(*args, cwd=cwd or tmp_path, **kwargs)  # type: ignore[arg-type]

    return run


def write_tree(root: Path, files: dict[str, bytes | str]) -> None:
    """Create `files` (relative path -> content) under `root`, with their directories."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
