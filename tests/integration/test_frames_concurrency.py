"""Separate OS processes writing frames for the same node leave a consistent store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import scan
from tests.support.cli import CliResult, merkle_executable
from tests.support.store import query, tree_paths

Merkle = Callable[..., CliResult]

AGENT = "docs-writer"
FRAME_TYPE = "context"
WRITES_PER_PROCESS = 50

# One writer process: waits on stdin until every writer is started, then opens the
# workspace database and writes `count` frames for one node through ContextApi,
# printing each frame id and whether it was new.
WRITER = """
import sys
from pathlib import Path

from merkle.context.api import ContextApi, FrameDraft
from merkle.metadata import Source, build_metadata
from merkle.store import FrameKey, open_store

database_path, node_id, label, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
metadata = build_metadata(agent_id="docs-writer", frame_type="context", source=Source.MANUAL)
print("ready", flush=True)
sys.stdin.readline()
store = open_store(Path(database_path))
try:
    api = ContextApi(store)
    for index in range(count):
        draft = FrameDraft(
            key=FrameKey(node_id, "docs-writer", "context"),
            content=f"{label}: frame number {index}",
            metadata=metadata,
        )
        result = api.put_frame(draft)
        print(result.frame_id, int(result.created), flush=True)
finally:
    store.close()
"""


@pytest.fixture
def scanned(workspace: Workspace) -> Workspace:
    write_tree(workspace.root, {"a.txt": "alpha\n", "src/b.py": "b = 1\n"})
    scan(workspace)
    return workspace


def run_writers(
    workspace: Workspace, node_id: str, labels: list[str], count: int
) -> list[list[tuple[str, bool]]]:
    """Start one writer per label, release them together, and return what each wrote."""
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(workspace.database_path),
                node_id,
                label,
                str(count),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label in labels
    ]
    try:
        # A barrier without sleeping: each writer says it is ready, then all are released.
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline() == "ready\n", writer.communicate(timeout=30)[1]
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        outputs = [writer.communicate(timeout=60) for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait(timeout=30)
    results = []
    for writer, (stdout, stderr) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, stderr
        assert stderr == ""
        rows = [line.split() for line in stdout.splitlines()]
        results.append([(frame_id, created == "1") for frame_id, created in rows])
    return results


def assert_heads_consistent(workspace: Workspace) -> None:
    """Every head points at an existing frame of its own key, the newest one of that key."""
    heads = query(
        workspace.root, "SELECT node_id, agent_id, frame_type, frame_id, created_at_ns FROM heads"
    )
    assert heads, "no head was written"
    for node_id, agent_id, frame_type, frame_id, created_at_ns in heads:
        frame = query(
            workspace.root,
            "SELECT node_id, agent_id, frame_type, created_at_ns FROM frames WHERE frame_id = ?",
            (frame_id,),
        )
        assert frame == [(node_id, agent_id, frame_type, created_at_ns)]
        newest = query(
            workspace.root,
            "SELECT MAX(created_at_ns) FROM frames"
            " WHERE node_id = ? AND agent_id = ? AND frame_type = ?",
            (node_id, agent_id, frame_type),
        )[0][0]
        assert created_at_ns == newest


def test_two_processes_writing_frames_for_one_node_lose_nothing(
    merkle: Merkle, scanned: Workspace
) -> None:
    node_id = tree_paths(scanned.root)["a.txt"]

    first, second = run_writers(scanned, node_id, ["first", "second"], WRITES_PER_PROCESS)

    written = [frame_id for frame_id, _ in first + second]
    assert all(created for _, created in first + second)
    assert len(set(written)) == 2 * WRITES_PER_PROCESS
    stored = {row[0] for row in query(scanned.root, "SELECT frame_id FROM frames")}
    assert stored == set(written)
    heads = query(scanned.root, "SELECT node_id, agent_id, frame_type, frame_id FROM heads")
    assert len(heads) == 1
    assert heads[0][:3] == (node_id, AGENT, FRAME_TYPE)
    assert heads[0][3] in written
    assert_heads_consistent(scanned)
    validated = merkle("workspace", "validate", "--json", cwd=scanned.root)
    assert validated.code == 0, validated.stdout
    assert validated.json()["frames_checked"] == 2 * WRITES_PER_PROCESS


def test_two_processes_writing_the_same_frames_store_each_once(
    merkle: Merkle, scanned: Workspace
) -> None:
    node_id = tree_paths(scanned.root)["a.txt"]

    first, second = run_writers(scanned, node_id, ["same", "same"], WRITES_PER_PROCESS)

    # Both processes get the same id for each frame; exactly one of them created it.
    assert [frame_id for frame_id, _ in first] == [frame_id for frame_id, _ in second]
    for (_, created_first), (_, created_second) in zip(first, second, strict=True):
        assert created_first != created_second
    assert query(scanned.root, "SELECT COUNT(*) FROM frames") == [(WRITES_PER_PROCESS,)]
    assert query(scanned.root, "SELECT COUNT(*) FROM heads") == [(1,)]
    assert_heads_consistent(scanned)
    assert merkle("workspace", "validate", cwd=scanned.root).code == 0


def test_concurrent_context_put_commands_for_one_node_all_land(
    merkle: Merkle, scanned: Workspace, tmp_path: Path
) -> None:
    node_id = tree_paths(scanned.root)["src/b.py"]
    texts = [f"Frame text from command {index}.\n" for index in range(6)]
    commands = []
    for index, text in enumerate(texts):
        frame_file = tmp_path / f"frame-{index}.md"
        frame_file.write_text(text, encoding="utf-8")
        commands.append(
            [merkle_executable(), "context", "put", "src/b.py", "--file", str(frame_file)]
        )
    environment = {**os.environ, "NO_COLOR": "1"}

    processes = [
        subprocess.Popen(
            command,
            cwd=scanned.root,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    try:
        outputs = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    rows = query(scanned.root, "SELECT node_id, content FROM frames")
    assert sorted(rows) == sorted((node_id, text) for text in texts)
    assert_heads_consistent(scanned)
    validated = merkle("workspace", "validate", cwd=scanned.root)
    assert validated.code == 0, validated.stdout
