"""Build real directory trees on disk and read back the ids a scan gives them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from hypothesis import strategies as st

from merkle.workspace.init import init_workspace
from tests.support.apps import app_of

# Names that no ignore rule touches, so every generated entry is in the tree.
NAMES = st.text(alphabet="abcdefgh_-", min_size=1, max_size=5)
CONTENTS = st.binary(max_size=48)

# A tree is a dict of name -> bytes (a file) or name -> dict (a directory).
TREES = st.recursive(
    st.dictionaries(NAMES, CONTENTS, max_size=4),
    lambda children: st.dictionaries(NAMES, st.one_of(CONTENTS, children), max_size=4),
    max_leaves=16,
)

Tree = dict[str, "bytes | Tree"]


def flatten(tree: Tree, prefix: str = "") -> tuple[dict[str, bytes], list[str]]:
    """The files (path -> bytes) and directories (paths) of a nested tree."""
    files: dict[str, bytes] = {}
    directories: list[str] = []
    for name, value in tree.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            directories.append(path)
            sub_files, sub_dirs = flatten(value, f"{path}/")
            files.update(sub_files)
            directories.extend(sub_dirs)
        else:
            files[path] = value
    return files, directories


def create(
    root: Path, files: dict[str, bytes], directories: Iterable[str], order: list[str]
) -> None:
    """Create the entries under `root`, files in the given `order` of paths."""
    for directory in directories:
        (root / directory).mkdir(parents=True, exist_ok=True)
    for path in order:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[path])


def scan_ids(root: Path) -> dict[str, str]:
    """Initialise `root` if needed, scan it, and return path -> node id of the current tree."""
    workspace = init_workspace(root).workspace
    with app_of(workspace) as app:
        app.scan()
        return {path: entry.node_id for path, entry in app.store.nodes.load_tree().items()}


def ancestors(path: str) -> set[str]:
    """Every directory above `path`, the root `.` included."""
    parts = path.split("/")
    found = {"."}
    for index in range(1, len(parts)):
        found.add("/".join(parts[:index]))
    return found


def set_mtime(path: Path, seconds: float) -> None:
    """Set a file's access and modification time."""
    os.utime(path, (seconds, seconds))
