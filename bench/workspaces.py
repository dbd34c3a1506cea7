"""A copied tree as a merkle workspace, driven through the real command line and
read back from its database, for the benches that judge what a run produced."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

AGENT = "docs-writer"


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]

    def merkle(self, *args: str) -> subprocess.CompletedProcess[str]:
        merkle = str(Path(sys.executable).parent / "merkle")
        return subprocess.run(
            [merkle, *args], cwd=self.root, env=self.env, capture_output=True, text=True
        )

    def rows(self, sql: str, *parameters: object) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(self.root / ".merkle" / "merkle.db")) as connection:
            return connection.execute(sql, parameters).fetchall()

    def paths(self) -> dict[str, str]:
        """Every path of the current tree, and its type."""
        rows = self.rows("SELECT path, node_type FROM tree_entries")
        return {str(path): str(kind) for path, kind in rows}

    def frames(self) -> dict[str, str]:
        """The head frame's text of every path that has one."""
        rows = self.rows(
            "SELECT t.path, f.content FROM tree_entries t JOIN heads h ON h.node_id = t.node_id"
            " JOIN frames f ON f.frame_id = h.frame_id WHERE h.agent_id = ?",
            AGENT,
        )
        return {str(path): str(content) for path, content in rows}


def workspace_of(
    source: Path, scratch: Path, name: str, *, env: dict[str, str] | None = None
) -> Workspace:
    """A copy of `source` as the workspace `scratch/name`, initialised."""
    root = scratch / name
    shutil.copytree(source, root, symlinks=True)
    environment = {**os.environ, "XDG_CONFIG_HOME": str(scratch / "xdg"), **(env or {})}
    workspace = Workspace(root=root, env=environment)
    done = workspace.merkle("init")
    if done.returncode != 0:
        sys.exit(f"merkle init failed: {done.stderr}")
    return workspace


def parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else "."


def children_by_directory(paths: dict[str, str]) -> dict[str, set[str]]:
    """Every directory's children, by path; an empty directory has none."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        if path != ".":
            found[parent(path)].add(path)
    for path, kind in paths.items():
        if kind == "directory":
            found.setdefault(path, set())
    return found


def unnamed_children(paths: dict[str, str], frames: dict[str, str]) -> list[tuple[str, int, str]]:
    """`(directory, children not named, the first of them)` for every directory whose
    frame does not name each of its children."""
    unnamed = []
    for directory, expected in sorted(children_by_directory(paths).items()):
        text = frames.get(directory, "")
        absent = sorted(c for c in expected if c.rsplit("/", 1)[-1] not in text)
        if absent:
            unnamed.append((directory, len(absent), absent[0]))
    return unnamed


def missing_frames(paths: dict[str, str], frames: dict[str, str]) -> str:
    missing = sorted(set(paths) - set(frames))
    return f"{len(frames):,} of {len(paths):,}" + (f"; missing {missing[:3]}" if missing else "")


def report(label: str, ok: bool, detail: str) -> bool:
    print(f"  {'PASS' if ok else 'FAIL'}  {label}: {detail}")
    return ok
