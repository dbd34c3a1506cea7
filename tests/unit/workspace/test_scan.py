"""The scan service: stat cache, racily clean files, and what an interrupted scan leaves."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from merkle.workspace.layout import Workspace
from merkle.workspace.scan import RACY_MARGIN_NS
from tests.conftest import write_tree
from tests.support.apps import backend, scan

PAST_S = 1_700_000_000  # a fixed modification time, long before any test's clock


def fixed_clock(ns: int):  # type: ignore[no-untyped-def]
    return lambda: ns


def age(root: Path, seconds: float = PAST_S) -> None:
    """Give every file under `root` (but .merkle) the same old modification time."""
    for path in root.rglob("*"):
        if path.is_file() and ".merkle" not in path.parts:
            os.utime(path, (seconds, seconds))


def tree_ids(workspace: Workspace) -> dict[str, str]:
    with backend(workspace) as store:
        return {p: e.node_id for p, e in store.nodes.load_tree().items()}


def test_rescan_reuses_every_unchanged_file_and_hashes_only_the_changed_one(
    workspace: Workspace,
) -> None:
    write_tree(workspace.root, {"a.py": "a", "pkg/b.py": "b", "pkg/c.py": "c"})
    age(workspace.root)
    first = scan(workspace)
    assert (first.scan.counts.hashed, first.scan.counts.reused) == (3, 0)

    second = scan(workspace)
    assert (second.scan.counts.hashed, second.scan.counts.reused) == (0, 3)
    assert not second.changed

    (workspace.root / "pkg" / "b.py").write_text("b2")
    os.utime(workspace.root / "pkg" / "b.py", (PAST_S + 10, PAST_S + 10))
    third = scan(workspace)
    assert (third.scan.counts.hashed, third.scan.counts.reused) == (1, 2)
    assert third.changed
    assert third.scan.root_node_id != second.scan.root_node_id


def test_a_file_modified_close_to_its_hash_is_hashed_again_even_if_its_stat_matches(
    workspace: Workspace,
) -> None:
    path = workspace.root / "racy.txt"
    path.write_text("one")
    mtime_ns = PAST_S * 10**9
    os.utime(path, ns=(mtime_ns, mtime_ns))
    # The first scan runs within the racy margin of the file's modification time.
    scan(workspace, clock_ns=fixed_clock(mtime_ns + RACY_MARGIN_NS // 2))
    before = tree_ids(workspace)["racy.txt"]

    # Same size, same inode, same mtime: the stat cannot tell the edit apart.
    path.write_text("two")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    result = scan(workspace, clock_ns=fixed_clock(mtime_ns + 100 * 10**9))
    assert result.scan.counts.hashed == 1
    assert tree_ids(workspace)["racy.txt"] != before


def test_removed_files_leave_the_current_tree_but_their_records_stay(workspace: Workspace) -> None:
    write_tree(workspace.root, {"keep.py": "k", "gone/x.py": "x"})
    scan(workspace)
    old_id = tree_ids(workspace)["gone/x.py"]
    (workspace.root / "gone" / "x.py").unlink()
    (workspace.root / "gone").rmdir()
    scan(workspace)
    assert set(tree_ids(workspace)) == {".", "keep.py"}
    with backend(workspace) as store:
        assert store.nodes.get(old_id) is not None  # history is kept


class InterruptAfterFirstChunk:
    def walked(self, files: int) -> None:
        pass

    def hashing(self, *, files: int, size_bytes: int) -> None:
        pass

    def hashed(self, size_bytes: int) -> None:
        raise KeyboardInterrupt


def test_an_interrupted_scan_leaves_the_previous_tree_whole(workspace: Workspace) -> None:
    write_tree(workspace.root, {"a.py": "a", "b.py": "b"})
    first = scan(workspace)
    before = tree_ids(workspace)
    (workspace.root / "c.py").write_text("c")
    with pytest.raises(KeyboardInterrupt):
        scan(workspace, progress=InterruptAfterFirstChunk())
    assert tree_ids(workspace) == before
    with backend(workspace) as store:
        last = store.nodes.last_scan()
    assert last is not None
    assert last.scan_id == first.scan.scan_id


def test_scan_counts_describe_the_tree(workspace: Workspace) -> None:
    write_tree(workspace.root, {"a.py": "12345", "d/e/f.txt": "123", ".env": "SECRET=1"})
    (workspace.root / "empty").mkdir()
    result = scan(workspace)
    counts = result.scan.counts
    assert (counts.files, counts.directories, counts.bytes) == (2, 4, 8)
    assert counts.ignored == 2  # .env and .merkle
    assert counts.warnings == 0
    assert result.scan.finished_at_ns >= result.scan.started_at_ns
    assert result.scan.started_at_ns <= time.time_ns()
