"""Read and damage a workspace database directly, as another program would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any


def database_path(root: Path) -> Path:
    """The database of the workspace at `root`."""
    return root / ".merkle" / "merkle.db"


@contextmanager
def connect(root: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the workspace database; commits on success."""
    with closing(sqlite3.connect(database_path(root))) as connection, connection:
        yield connection


def query(root: Path, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row `sql` selects from the workspace database."""
    with connect(root) as connection:
        return connection.execute(sql, parameters).fetchall()


def tree_paths(root: Path) -> dict[str, str]:
    """The current tree as stored: path -> node id, from the `tree_entries` table."""
    return dict(query(root, "SELECT path, node_id FROM tree_entries"))


def node_paths(root: Path) -> set[str]:
    """Every path any stored node record has ever had, from the `nodes` table."""
    return {path for (path,) in query(root, "SELECT path FROM nodes")}


def content_hash(root: Path, path: str) -> str:
    """The content hash stored for the file currently at `path`."""
    rows = query(
        root,
        "SELECT n.content_hash FROM tree_entries t JOIN nodes n ON n.node_id = t.node_id"
        " WHERE t.path = ?",
        (path,),
    )
    assert len(rows) == 1, f"{path} is not in the stored tree"
    return str(rows[0][0])
