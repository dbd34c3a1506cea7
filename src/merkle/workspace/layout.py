"""Where a workspace is: discovery from the current directory, and its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from merkle.config import CONFIG_FILE_NAME, DATABASE_FILE_NAME, WORKSPACE_DIR_NAME
from merkle.errors import WorkspaceNotFound


@dataclass(frozen=True, slots=True)
class Workspace:
    """A directory tree with a `.merkle/` directory at its root."""

    root: Path

    @property
    def state_dir(self) -> Path:
        """The `.merkle/` directory."""
        return self.root / WORKSPACE_DIR_NAME

    @property
    def config_path(self) -> Path:
        """The workspace configuration file."""
        return self.state_dir / CONFIG_FILE_NAME

    @property
    def database_path(self) -> Path:
        """The workspace database."""
        return self.state_dir / DATABASE_FILE_NAME

    def is_initialised(self) -> bool:
        """Whether `merkle init` has run here (whatever state its database is in now:
        opening the store says what is wrong with it)."""
        return self.database_path.exists()


def _not_found(where: Path) -> WorkspaceNotFound:
    return WorkspaceNotFound(
        f"no merkle workspace at {where} or any directory above it",
        hint="run `merkle init` at the root of your project, or pass --workspace DIR",
    )


def discover(start: Path) -> Workspace:
    """The nearest workspace at or above `start`, as git finds its repository."""
    start = start.resolve()
    for directory in (start, *start.parents):
        candidate = Workspace(directory)
        if candidate.is_initialised():
            return candidate
    raise _not_found(start)


def locate(explicit: Path | None, *, cwd: Path) -> Workspace:
    """The workspace at or above `--workspace DIR` if given, else at or above `cwd`."""
    start = cwd if explicit is None else cwd / explicit
    if not start.is_dir():
        raise WorkspaceNotFound(
            f"{start} is not a directory",
            hint="pass --workspace the root directory of an initialised workspace",
        )
    return discover(start)
