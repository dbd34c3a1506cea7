"""`merkle status`: the last scan, and what changed on disk since, by stat alone."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import scan
from tests.support.cli import CliResult
from tests.support.files import backdate, set_mtime
from tests.support.store import query

Merkle = Callable[..., CliResult]

TREE: dict[str, bytes | str] = {
    "a.txt": "alpha",
    "gone.txt": "removed later",
    "src/b.py": "b = 1\n",
    "old/c.txt": "removed later with its directory",
}


def words(text: str) -> str:
    """`text` with every run of whitespace made one space: layout is not under test."""
    return " ".join(text.split())


def status_json(merkle: Merkle, workspace: Workspace) -> dict[str, Any]:
    result = merkle("status", "--json", cwd=workspace.root)
    assert result.code == 0, result.stderr
    payload = result.json()
    assert isinstance(payload, dict)
    return payload


def test_status_before_any_scan_has_no_last_scan(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, TREE)

    payload = status_json(merkle, workspace)
    human = merkle("status", cwd=workspace.root)

    expected = {
        "workspace": str(workspace.root),
        "root_node_id": None,
        "last_scan": None,
        "node_records": 0,
        "changed": None,
        "changes": None,
    }
    assert {key: payload[key] for key in expected} == expected
    assert human.code == 0, human.stderr
    assert "last scan never" in words(human.stdout)
    assert "merkle scan" in human.stderr


def test_status_after_a_scan_reports_it_and_no_changes(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, TREE)
    scanned = scan(workspace).scan

    payload = status_json(merkle, workspace)
    human = merkle("status", cwd=workspace.root)

    assert payload["root_node_id"] == scanned.root_node_id
    assert payload["last_scan"]["scan_id"] == scanned.scan_id
    assert payload["last_scan"]["counts"]["files"] == 4
    assert payload["node_records"] == 4 + 3  # files, and the root, src, old
    assert payload["changed"] is False
    assert payload["changes"] == {"added": [], "modified": [], "removed": []}
    assert human.code == 0, human.stderr
    assert f"root {scanned.root_node_id}" in words(human.stdout)
    assert "disk unchanged since the last scan" in words(human.stdout)


def test_status_reports_added_modified_and_removed_paths(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, TREE)
    scan(workspace)
    (workspace.root / "a.txt").write_text("alpha, longer now", encoding="utf-8")
    (workspace.root / "gone.txt").unlink()
    shutil.rmtree(workspace.root / "old")
    write_tree(workspace.root, {"new.txt": "new", "fresh/d.txt": "new too"})

    payload = status_json(merkle, workspace)
    human = merkle("status", cwd=workspace.root)

    assert payload["changed"] is True
    assert payload["changes"] == {
        "added": ["fresh", "fresh/d.txt", "new.txt"],
        "modified": ["a.txt"],
        "removed": ["gone.txt", "old", "old/c.txt"],
    }
    assert human.code == 0, human.stderr
    assert "changed since the last scan: 3 added, 1 modified, 3 removed" in words(human.stdout)
    assert "modified a.txt" in words(human.stdout)


def test_status_sees_a_new_modification_time_as_a_modification(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, TREE)
    backdate(workspace.root, 100)
    scan(workspace)
    set_mtime(workspace.root / "src" / "b.py", 50)

    payload = status_json(merkle, workspace)

    assert payload["changes"] == {"added": [], "modified": ["src/b.py"], "removed": []}


def test_status_compares_stat_only_and_never_reads_contents(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, TREE)
    backdate(workspace.root, 100)
    scan(workspace)
    # Same size, same inode, same modification time: only reading it would tell.
    path = workspace.root / "a.txt"
    before = path.stat()
    with path.open("r+b") as handle:
        handle.write(b"ALPHA")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_ino == before.st_ino

    payload = status_json(merkle, workspace)

    assert payload["changed"] is False
    assert payload["changes"]["modified"] == []


def test_status_records_no_scan_and_writes_nothing(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, TREE)
    scan(workspace)
    (workspace.root / "new.txt").write_text("new", encoding="utf-8")
    tree_before = query(workspace.root, "SELECT * FROM tree_entries ORDER BY path")

    status_json(merkle, workspace)

    assert query(workspace.root, "SELECT COUNT(*) FROM scans") == [(1,)]
    assert query(workspace.root, "SELECT * FROM tree_entries ORDER BY path") == tree_before
