"""`merkle init`: the `.merkle/` directory, its configuration and its database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from merkle.config import DEFAULT_CONFIG_TOML, WORKSPACE_DIR_NAME
from merkle.errors import UsageError
from merkle.store import open_store
from merkle.workspace.layout import Workspace

_GITIGNORE_LINE = f"/{WORKSPACE_DIR_NAME}/"


@dataclass(frozen=True, slots=True, kw_only=True)
class InitResult:
    """What `init` did: whether the workspace is new and which files it wrote."""

    workspace: Workspace
    created: bool
    config_written: bool
    gitignore_updated: bool


def _ignore_state_dir(root: Path) -> bool:
    """Add `.merkle/` to the root `.gitignore` of a git work tree; True if it changed."""
    if not (root / ".git").exists():
        return False
    gitignore = root / ".gitignore"
    text = gitignore.read_text(encoding="utf-8", errors="replace") if gitignore.is_file() else ""
    known = {line.strip() for line in text.splitlines()}
    forms = {WORKSPACE_DIR_NAME, f"{WORKSPACE_DIR_NAME}/", f"/{WORKSPACE_DIR_NAME}"}
    if known & {*forms, _GITIGNORE_LINE}:
        return False
    separator = "" if not text or text.endswith("\n") else "\n"
    with gitignore.open("a", encoding="utf-8") as handle:
        handle.write(f"{separator}{_GITIGNORE_LINE}\n")
    return True


def init_workspace(root: Path) -> InitResult:
    """Make `root` a workspace; running it again changes nothing that exists.

    The state directory also gets a `.gitignore` of `*`, so git leaves it out
    even where the workspace is not the root of the repository.
    """
    if not root.is_dir():
        raise UsageError(
            f"{root} is not a directory", hint="create it first, or run `merkle init` inside it"
        )
    workspace = Workspace(root.resolve())
    created = not workspace.is_initialised()
    workspace.state_dir.mkdir(exist_ok=True)
    (workspace.state_dir / ".gitignore").write_text("*\n", encoding="utf-8")
    config_written = not workspace.config_path.exists()
    if config_written:
        workspace.config_path.write_text(DEFAULT_CONFIG_TOML, encoding="utf-8")
    open_store(workspace.database_path, create=True).close()
    gitignore_updated = _ignore_state_dir(workspace.root)
    return InitResult(
        workspace=workspace,
        created=created,
        config_written=config_written,
        gitignore_updated=gitignore_updated,
    )
