"""A scan over trees that fight back: unreadable entries, links, odd names, big files, FIFOs.

The scan must finish, say what it left out, and never read what it must not.
"""

from __future__ import annotations

import os
import subprocess
import tracemalloc
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from merkle.workspace.init import init_workspace
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import scan
from tests.support.audit import path_recorder
from tests.support.cli import CliResult
from tests.support.files import backdate
from tests.support.privileges import can_open_unprivileged, run_merkle_unprivileged
from tests.support.store import content_hash, query, tree_paths

Merkle = Callable[..., CliResult]

# A scan of a handful of files takes well under a second; a scan stuck on a
# FIFO never ends. The margin is generous for a loaded machine.
HANG_TIMEOUT_S = 10


def scan_json(result: CliResult) -> dict[str, Any]:
    assert result.code == 0, result.stderr
    payload = result.json()
    assert isinstance(payload, dict)
    return payload


def warned(payload: dict[str, Any]) -> dict[str, str]:
    return {warning["path"]: warning["message"] for warning in payload["warnings"]}


@pytest.fixture
def locked_modes() -> Iterator[list[Path]]:
    """Paths a test makes mode 000; their modes are restored so the directory can be removed."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        path.chmod(0o700)


# -- unreadable entries ------------------------------------------------------------------


def test_unreadable_file_is_a_warning_and_the_scan_carries_on(
    workspace: Workspace, locked_modes: list[Path]
) -> None:
    write_tree(workspace.root, {"a.txt": "a", "locked.txt": "no", "src/b.py": "b = 1\n"})
    locked = workspace.root / "locked.txt"
    locked.chmod(0o000)
    locked_modes.append(locked)
    # The premise: the scan's process really cannot read it (root could, with its capabilities).
    assert not can_open_unprivileged(locked)
    assert can_open_unprivileged(workspace.root / "a.txt")

    payload = scan_json(run_merkle_unprivileged("scan", "--json", cwd=workspace.root))

    assert "cannot read" in warned(payload)["locked.txt"]
    assert payload["counts"]["warnings"] == 1
    assert payload["counts"]["files"] == 2
    assert set(tree_paths(workspace.root)) == {".", "a.txt", "src", "src/b.py"}


def test_unreadable_directory_is_a_warning_and_the_scan_carries_on(
    workspace: Workspace, locked_modes: list[Path]
) -> None:
    write_tree(workspace.root, {"a.txt": "a", "locked/inner.txt": "no", "src/b.py": "b = 1\n"})
    locked = workspace.root / "locked"
    locked.chmod(0o000)
    locked_modes.append(locked)
    assert not can_open_unprivileged(locked)
    assert can_open_unprivileged(workspace.root / "src")

    payload = scan_json(run_merkle_unprivileged("scan", "--json", cwd=workspace.root))

    assert "cannot list directory" in warned(payload)["locked"]
    assert payload["counts"]["warnings"] == 1
    assert set(tree_paths(workspace.root)) == {".", "a.txt", "src", "src/b.py"}


def test_unreadable_file_joins_the_tree_once_readable_again(
    workspace: Workspace, locked_modes: list[Path]
) -> None:
    write_tree(workspace.root, {"a.txt": "a", "locked.txt": "no"})
    locked = workspace.root / "locked.txt"
    locked.chmod(0o000)
    locked_modes.append(locked)
    assert not can_open_unprivileged(locked)
    # Old enough that the rescans may trust the cached stat and listing of everything.
    backdate(workspace.root, 100)
    first = scan_json(run_merkle_unprivileged("scan", "--json", cwd=workspace.root))

    still_locked = scan_json(run_merkle_unprivileged("scan", "--json", cwd=workspace.root))
    locked.chmod(0o644)  # a new mode; its modification time and its directory's stay
    readable = scan_json(run_merkle_unprivileged("scan", "--json", cwd=workspace.root))

    assert set(warned(first)) == set(warned(still_locked)) == {"locked.txt"}
    assert readable["warnings"] == []
    assert readable["counts"]["files"] == 2
    assert set(tree_paths(workspace.root)) == {".", "a.txt", "locked.txt"}


# -- symbolic links ----------------------------------------------------------------------


def test_symlink_loops_are_warnings_and_not_followed(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, {"a.txt": "a"})
    (workspace.root / "ping").symlink_to("pong")
    (workspace.root / "pong").symlink_to("ping")
    (workspace.root / "self").symlink_to("self")

    payload = scan_json(merkle("scan", "--json", cwd=workspace.root, timeout_s=HANG_TIMEOUT_S))

    warnings = warned(payload)
    assert set(warnings) == {"ping", "pong", "self"}
    assert all("loops" in message for message in warnings.values())
    assert set(tree_paths(workspace.root)) == {".", "a.txt"}


def test_directory_link_to_its_own_parent_is_not_followed(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, {"sub/f.txt": "f"})
    (workspace.root / "sub" / "up").symlink_to("..")
    (workspace.root / "here").symlink_to(".")

    payload = scan_json(merkle("scan", "--json", cwd=workspace.root, timeout_s=HANG_TIMEOUT_S))

    # The targets are in the tree at their own paths; the links add nothing.
    assert set(tree_paths(workspace.root)) == {".", "sub", "sub/f.txt"}
    assert payload["counts"]["files"] == 1


def test_symlink_to_a_file_inside_the_workspace_adds_nothing(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, {"a.txt": "a", "src/b.py": "b"})
    (workspace.root / "alias.txt").symlink_to("a.txt")
    (workspace.root / "src" / "up.txt").symlink_to(workspace.root / "a.txt")

    payload = scan_json(merkle("scan", "--json", cwd=workspace.root))

    assert payload["warnings"] == []
    assert set(tree_paths(workspace.root)) == {".", "a.txt", "src", "src/b.py"}


def _tree_with_links_out(root: Path, outside: Path) -> None:
    write_tree(root, {".gitignore": "*.log\n", "inside.txt": "in", "src/b.py": "b = 1\n"})
    write_tree(outside, {"secret.txt": "outside the workspace", "dir/x.txt": "outside too"})
    (root / "file-link").symlink_to(outside / "secret.txt")
    (root / "src" / "dir-link").symlink_to(outside / "dir")
    (root / "relative-link").symlink_to(os.path.relpath(outside / "secret.txt", root))


def test_symlink_pointing_outside_is_never_read(tmp_path: Path, workspace: Workspace) -> None:
    outside = tmp_path / "outside"
    _tree_with_links_out(workspace.root, outside)
    # Warm up on a tree of the same shape, so that lazy imports and caches do not
    # open their own files while the real scan is recorded.
    warm_up = tmp_path / "warm-up"
    warm_up.mkdir()
    _tree_with_links_out(warm_up, tmp_path / "warm-up-outside")
    scan(init_workspace(warm_up).workspace)

    recorder = path_recorder()
    recorder.start()
    try:
        result = scan(workspace)
    finally:
        recorded = recorder.stop()

    root = str(workspace.root)
    opened = {path for event, path in recorded if event == "open"}
    # The recorder sees the scan at work: it read the files inside.
    assert str(workspace.root / "inside.txt") in opened
    assert str(workspace.root / "src" / "b.py") in opened
    # Resolved now, while the links exist: opening a link opens its target.
    resolved = {os.path.realpath(path) for _, path in recorded}
    assert [p for p in resolved if p != root and not p.startswith(root + os.sep)] == []
    links = {"file-link", "src/dir-link", "relative-link"}
    assert not {str(workspace.root / link) for link in links} & {path for _, path in recorded}
    assert {w.path for w in result.warnings} == links
    assert all("outside the workspace" in w.message for w in result.warnings)
    assert set(tree_paths(workspace.root)) == {".", ".gitignore", "inside.txt", "src", "src/b.py"}


# -- names -------------------------------------------------------------------------------


def test_non_utf8_names_are_warnings_and_skipped(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, {"good.txt": "good"})
    root = os.fsencode(workspace.root)
    fd = os.open(os.path.join(root, b"bad\xff.txt"), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"bad name")
    os.close(fd)
    os.mkdir(os.path.join(root, b"dir\xfe"))
    with open(os.path.join(root, b"dir\xfe", b"inner.txt"), "wb") as handle:
        handle.write(b"inside a bad name")

    payload = scan_json(merkle("scan", "--json", cwd=workspace.root))

    warnings = warned(payload)
    assert set(warnings) == {"bad\\xff.txt", "dir\\xfe"}
    assert all("not valid UTF-8" in message for message in warnings.values())
    assert set(tree_paths(workspace.root)) == {".", "good.txt"}


def test_names_equal_once_nfc_normalised_keep_one_and_warn(
    merkle: Merkle, workspace: Workspace
) -> None:
    composed, decomposed = "caf\u00e9.txt", "cafe\u0301.txt"
    write_tree(workspace.root, {composed: "composed", decomposed: "decomposed"})

    payload = scan_json(merkle("scan", "--json", cwd=workspace.root))

    assert list(warned(payload)) == [composed]
    assert "same once normalised" in warned(payload)[composed]
    assert set(tree_paths(workspace.root)) == {".", composed}


def test_rescan_reports_the_same_warnings_again(tmp_path: Path, workspace: Workspace) -> None:
    write_tree(workspace.root, {"ok/a.txt": "a", "sub/b.txt": "b"})
    (workspace.root / "sub" / "out-link").symlink_to(tmp_path)
    (workspace.root / "sub" / "dangling").symlink_to(workspace.root / "missing")
    os.mkfifo(workspace.root / "sub" / "pipe")
    os.close(os.open(os.path.join(os.fsencode(workspace.root), b"sub/bad\xff"), os.O_CREAT))
    # Old enough that the rescan may trust the cached stat and listing of everything.
    backdate(workspace.root, 100)
    first = scan(workspace)

    second = scan(workspace)

    assert {w.path for w in first.warnings} == {
        "sub/out-link",
        "sub/dangling",
        "sub/pipe",
        "sub/bad\\xff",
    }
    assert second.warnings == first.warnings
    assert second.scan.counts.hashed == 0
    assert second.scan.counts.warnings == first.scan.counts.warnings == 4


# -- shapes and sizes --------------------------------------------------------------------


def test_empty_directory_is_a_node_with_no_children_and_a_stable_id(
    tmp_path: Path, workspace: Workspace
) -> None:
    write_tree(workspace.root, {"a.txt": "a"})
    (workspace.root / "empty").mkdir()
    twin = tmp_path / "twin"
    (twin / "empty").mkdir(parents=True)
    write_tree(twin, {"a.txt": "a"})
    without = tmp_path / "without"
    write_tree(without, {"a.txt": "a"})

    first = scan(workspace).scan
    again = scan(workspace).scan
    twin_scan = scan(init_workspace(twin).workspace).scan
    without_scan = scan(init_workspace(without).workspace).scan

    empty_id = tree_paths(workspace.root)["empty"]
    assert query(workspace.root, "SELECT node_type FROM nodes WHERE node_id = ?", (empty_id,)) == [
        ("directory",)
    ]
    assert query(
        workspace.root, "SELECT COUNT(*) FROM node_children WHERE parent_id = ?", (empty_id,)
    ) == [(0,)]
    assert first.counts.directories == 2
    assert tree_paths(twin)["empty"] == empty_id
    assert again.root_node_id == first.root_node_id == twin_scan.root_node_id
    assert without_scan.root_node_id != first.root_node_id


def test_a_50_mb_file_hashes_correctly_in_bounded_memory(workspace: Workspace) -> None:
    size = 50 * 1024 * 1024
    data = os.urandom(size)
    expected = blake3(data).hexdigest()
    (workspace.root / "big.bin").write_bytes(data)
    del data

    tracemalloc.start()
    try:
        result = scan(workspace)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.warnings == ()
    assert result.scan.counts.bytes == size
    assert content_hash(workspace.root, "big.bin") == expected
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak:,} bytes"


# -- FIFOs -------------------------------------------------------------------------------


def _run_scan_or_fail_on_hang(merkle: Merkle, root: Path) -> CliResult:
    try:
        return merkle("scan", "--json", cwd=root, timeout_s=HANG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the scan did not finish within {HANG_TIMEOUT_S} s: it hangs")


def test_fifo_is_a_warning_and_does_not_hang_the_scan(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, {"a.txt": "a", "src/b.py": "b"})
    os.mkfifo(workspace.root / "src" / "pipe")

    payload = scan_json(_run_scan_or_fail_on_hang(merkle, workspace.root))

    assert "not a regular file" in warned(payload)["src/pipe"]
    assert set(tree_paths(workspace.root)) == {".", "a.txt", "src", "src/b.py"}


def test_fifo_named_like_a_rule_file_does_not_hang_the_scan(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, {"a.txt": "a", "src/b.py": "b"})
    os.mkfifo(workspace.root / "src" / ".gitignore")

    payload = scan_json(_run_scan_or_fail_on_hang(merkle, workspace.root))

    assert "not a regular file" in warned(payload)["src/.gitignore"]
    assert set(tree_paths(workspace.root)) == {".", "a.txt", "src", "src/b.py"}


@pytest.mark.parametrize("name", [".gitignore", ".merkleignore"])
def test_directory_named_like_a_rule_file_is_scanned_as_a_directory(
    merkle: Merkle, workspace: Workspace, name: str
) -> None:
    write_tree(workspace.root, {"a.txt": "a", f"src/{name}/notes.txt": "a directory"})

    payload = scan_json(merkle("scan", "--json", cwd=workspace.root))

    assert payload["warnings"] == []
    assert set(tree_paths(workspace.root)) == {
        ".",
        "a.txt",
        "src",
        f"src/{name}",
        f"src/{name}/notes.txt",
    }


def test_a_decomposed_name_is_stored_composed_and_generated_by_its_name_on_disk(
    merkle: Merkle, workspace: Workspace
) -> None:
    # NFD on disk, as some file systems and archives write names; NFC in the tree.
    decomposed_dir, decomposed_file = "pk\u0301g", "cafe\u0301.py"
    (workspace.root / decomposed_dir).mkdir()
    (workspace.root / decomposed_dir / decomposed_file).write_text("MENU = ['tea']\n")
    assert merkle("scan", cwd=workspace.root).code == 0

    generated = merkle("context", "generate", "--json", cwd=workspace.root)

    assert generated.code == 0, generated.stdout + generated.stderr
    assert generated.json()["total_failed"] == 0
    composed = unicodedata.normalize("NFC", f"{decomposed_dir}/{decomposed_file}")
    assert composed in tree_paths(workspace.root)
    read = merkle("context", "get", composed, "--json", cwd=workspace.root)
    assert read.code == 0 and "MENU" in read.json()["content"]
