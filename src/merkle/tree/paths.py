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


def on_disk(root: str, path: str) -> str:
    """The absolute path of canonical `path` under `root`, spelt as the names are on disk.

    Paths are NFC for identity only: a file whose name is stored decomposed
    (NFD, as some file systems and archives write it) is opened by that name.
    A component with no name on disk that normalises to it is kept as it is,
    so opening the result fails as for any missing file.
    """
    current = root
    for component in [] if path == ROOT else path.split("/"):
        candidate = os.path.join(current, component)
        if not os.path.lexists(candidate):
            try:
                names = os.listdir(current)
            except OSError:
                names = []
            found = [name for name in names if normalise_name(name) == component]
            if len(found) == 1:
                candidate = os.path.join(current, found[0])
        current = candidate
    return current


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
