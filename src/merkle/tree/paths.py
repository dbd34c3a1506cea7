"""Canonical workspace paths: relative, POSIX separators, NFC, no `.`/`..`; the root is `.`."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from merkle.errors import PathOutsideWorkspace

ROOT = "."


def join(parent: str, name: str) -> str:
    """The canonical path of `name` inside the directory `parent`."""
    return name if parent == ROOT else f"{parent}/{name}"


def parent_of(path: str) -> str | None:
    """The canonical path of the directory holding `path` (None for the root)."""
    if path == ROOT:
        return None
    head, _, _ = path.rpartition("/")
    return head or ROOT


def name_of(path: str) -> str:
    """The last component of a canonical path (`.` for the root)."""
    return path.rpartition("/")[2]


def depth_of(path: str) -> int:
    """How many directories lie between the root and `path` (0 for the root)."""
    return 0 if path == ROOT else path.count("/") + 1


def normalise_name(name: str) -> str:
    """The canonical (NFC) form of one path component."""
    return unicodedata.normalize("NFC", name)


def canonicalise(root: Path, path: str | Path, *, cwd: Path | None = None) -> str:
    """The canonical workspace path of `path`, absolute or relative to `cwd`.

    Raises `PathOutsideWorkspace` when the path does not lie inside `root`.
    """
    absolute = Path(os.path.normpath((Path.cwd() if cwd is None else cwd) / path))
    # The directories on the way may be links (a workspace reached through one):
    # resolve them, but not the last component, which names a node of its own.
    resolved = Path(os.path.realpath(absolute.parent)) / absolute.name
    anchors = (Path(os.path.normpath(root)), Path(os.path.realpath(root)))
    for candidate in (absolute, resolved):
        for anchor in anchors:
            if candidate == anchor or anchor in candidate.parents:
                parts = [normalise_name(part) for part in candidate.relative_to(anchor).parts]
                return "/".join(parts) if parts else ROOT
    raise PathOutsideWorkspace(
        f"{path} is outside the workspace {root}",
        hint="give a path inside the workspace, or use --workspace to name another one",
    )
