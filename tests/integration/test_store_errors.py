"""A store that says what is wrong, through the real command line.

A damaged page, an empty file, a directory where the file should be, a
store that may only be read, and a store that another process keeps locked
past the busy timeout: each is a message naming the file and what to do,
with exit status 2 (or 1 for work that ran and failed), never a traceback or
"internal error". Read-only commands work on a read-only store.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from tests.conftest import write_tree
from tests.support.cli import CliResult
from tests.support.generate_cli import generate_bench
from tests.support.privileges import run_merkle_unprivileged

pytestmark = pytest.mark.timeout(120)

FILES = {
    f"pkg/m{index:02d}.py": f'"""Module {index}."""\n\nVALUE = {index}\n' for index in range(40)
}
BUSY_MS = 200


def assert_reported(result: CliResult, code: int, *phrases: str) -> None:
    """Exit status `code`, every phrase on stderr, and no sign of a crash."""
    assert result.code == code, result
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


@pytest.fixture
def generated(tmp_path: Path, merkle: Callable[..., CliResult]) -> Path:
    """A workspace with a tree, frames and sessions, all written by the real command."""
    root = tmp_path / "ws"
    root.mkdir()
    write_tree(root, FILES)
    for command in (("init",), ("scan",), ("context", "generate")):
        assert merkle(*command, cwd=root).code == 0
    return root


def database(root: Path) -> Path:
    return root / ".merkle" / "merkle.db"


def damage_table(path: Path, table: str) -> None:
    """Overwrite the root page of `table` with garbage, as a bad sector would."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        (root_page,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    with path.open("r+b") as handle:
        handle.seek((root_page - 1) * page_size)
        handle.write(b"\xa5" * page_size)


def test_a_damaged_page_is_named_with_the_file_and_what_to_do(
    generated: Path, merkle: Callable[..., CliResult]
) -> None:
    damage_table(database(generated), "tree_entries")

    for command in (("status",), ("context", "get", "."), ("scan",)):
        result = merkle(*command, cwd=generated)
        assert_reported(result, 2, str(database(generated)), "damaged", "move the file aside")
    validated = merkle("workspace", "validate", cwd=generated)
    assert validated.code in (1, 2), validated
    assert "Traceback" not in validated.stderr and "internal error" not in validated.stderr
    assert "damaged" in validated.stderr or "integrity" in validated.stdout


def test_an_empty_database_is_refused_and_left_as_it_is(
    generated: Path, merkle: Callable[..., CliResult]
) -> None:
    database(generated).write_bytes(b"")

    for command in (("status",), ("scan",), ("init",), ("sessions", "list")):
        result = merkle(*command, cwd=generated)
        assert_reported(result, 2, str(database(generated)), "is empty (0 bytes)", "backup")
    assert database(generated).stat().st_size == 0


def test_a_database_path_that_is_a_directory_is_named_as_such(
    generated: Path, merkle: Callable[..., CliResult]
) -> None:
    database(generated).unlink()
    database(generated).mkdir()

    for command in (("status",), ("context", "get", "."), ("init",)):
        result = merkle(*command, cwd=generated)
        assert_reported(result, 2, str(database(generated)), "is a directory")


@contextmanager
def read_only(root: Path) -> Iterator[None]:
    """The store's file and directory without write permission."""
    state_dir = root / ".merkle"
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in (state_dir, database(root))}
    database(root).chmod(0o444)
    state_dir.chmod(0o555)
    try:
        yield
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)


def test_read_only_commands_work_on_a_read_only_store(generated: Path) -> None:
    with read_only(generated):
        status = run_merkle_unprivileged("status", "--json", cwd=generated)
        got = run_merkle_unprivileged("context", "get", "pkg/m07.py", "--json", cwd=generated)
        sessions = run_merkle_unprivileged("sessions", "list", "--json", cwd=generated)
        validated = run_merkle_unprivileged("workspace", "validate", cwd=generated)
        scanned = run_merkle_unprivileged("scan", cwd=generated)

    assert (status.code, got.code, sessions.code, validated.code) == (0, 0, 0, 0), (
        status,
        got,
        sessions,
        validated,
    )
    assert status.json()["heads"] == 42
    assert got.json()["stale"] is False and "VALUE" in got.json()["content"]
    assert [s["command"] for s in sessions.json()["sessions"]] == ["context generate", "scan"]
    assert validated.stdout.startswith("ok:")
    assert_reported(scanned, 2, "this run is not recorded", "may only be read", "permissions")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another process's write lock on the store, held while the block runs."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")


def busy_store(root: Path) -> str:
    url = f"sqlite://{database(root)}?busy_timeout_ms={BUSY_MS}"
    return f'[store]\nurl = "{url}"\n'


def test_a_busy_store_at_scan_and_at_the_start_of_generate_is_reported(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        bench.configure(extra=busy_store(bench.root))
        with locked(database(bench.root)):
            scanned = bench.run("scan")
            generated = bench.run("context", "generate", "--provider", "remote")
    hint = "another merkle command is writing to it"
    assert_reported(scanned, 2, "this run is not recorded", "is locked by another process", hint)
    assert_reported(generated, 2, "is locked by another process", hint)
    assert bench.server.calls() == []


def test_a_busy_store_when_a_paid_frame_is_written_fails_the_node_with_a_hint(
    tmp_path: Path,
) -> None:
    with generate_bench(tmp_path) as bench:
        bench.configure(extra=busy_store(bench.root))
        gate = bench.server.hold(["src/sub/deep/e.py"])
        process = bench.start("context", "generate", "--provider", "remote")
        bench.server.wait_for_calls(["src/sub/deep/e.py"])
        with locked(database(bench.root)):
            gate.release()
            result = process.collect()
        again = bench.run("context", "generate", "--provider", "remote")

    # The frame could not be stored: the node failed, the run stopped, and the
    # session's events that could not be written are reported, not lost silently.
    assert_reported(result, 1, "events not stored", "is locked by another process")
    assert "src/sub/deep/e.py: store_busy:" in result.stdout
    assert "another merkle command is writing to it" in result.stdout
    # Nothing is left stuck: once the lock is gone, the next run finishes the tree.
    assert again.code == 0, again
    assert len(bench.heads()) == 12
