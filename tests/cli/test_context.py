"""`merkle context get` and `merkle context put` through the real entry point."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from merkle.context.api import ContextApi, FrameDraft
from merkle.metadata import FrameMetadata, Source, build_metadata
from merkle.store import FrameKey
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import backend, scan
from tests.support.cli import CliResult, merkle_executable
from tests.support.store import query, tree_paths

Merkle = Callable[..., CliResult]

AGENT = "docs-writer"
FRAME_TYPE = "context"
# 2023-11-14T22:13:20.123 UTC
T1_NS = 1_700_000_000_123_000_000
T2_NS = 1_700_000_060_456_000_000
METADATA_KEYS = {
    "agent_id",
    "frame_type",
    "source",
    "provider",
    "provider_type",
    "model",
    "prompt_digest",
    "input_tokens",
    "output_tokens",
    "attempts",
}
READ_KEYS = {
    "path",
    "node_id",
    "stale",
    "stale_reason",
    "frame_id",
    "frame_node_id",
    "agent_id",
    "frame_type",
    "created_at",
    "content",
    "metadata",
}
HISTORY_ENTRY_KEYS = {
    "frame_id",
    "node_id",
    "agent_id",
    "frame_type",
    "created_at",
    "content",
    "metadata",
    "stale",
}

# Fake credentials of the real shapes, assembled so that no scanner mistakes this file for a leak.
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
OPENAI_KEY = "sk-" + "abcdefghijklmnopqrstuvwx1234"
RSA_BLOCK = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"


@pytest.fixture
def scanned(workspace: Workspace) -> Workspace:
    """A workspace with a small tree, scanned once."""
    write_tree(workspace.root, {"a.txt": "alpha\n", "src/b.py": "b = 1\n"})
    scan(workspace)
    return workspace


def put(
    workspace: Workspace,
    path: str,
    content: str,
    *,
    at_ns: int,
    metadata: FrameMetadata | None = None,
) -> str:
    """Write a frame in-process at a chosen time; returns its id."""
    metadata = metadata or build_metadata(
        agent_id=AGENT, frame_type=FRAME_TYPE, source=Source.MANUAL
    )
    with backend(workspace) as store:
        result = ContextApi(store, clock_ns=lambda: at_ns).put_frame(
            FrameDraft(
                key=FrameKey(
                    tree_paths(workspace.root)[path], metadata.agent_id, metadata.frame_type
                ),
                content=content,
                metadata=metadata,
            )
        )
    return result.frame_id


def edit(workspace: Workspace, files: dict[str, bytes | str]) -> None:
    write_tree(workspace.root, files)
    scan(workspace)


def frame_count(workspace: Workspace) -> int:
    return int(query(workspace.root, "SELECT COUNT(*) FROM frames")[0][0])


def head_count(workspace: Workspace) -> int:
    return int(query(workspace.root, "SELECT COUNT(*) FROM heads")[0][0])


def text_file(tmp_path: Path, content: str | bytes, name: str = "frame.md") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- context put -----------------------------------------------------------------------


def test_put_writes_a_frame_that_get_prints_with_its_metadata(
    merkle: Merkle, scanned: Workspace, tmp_path: Path
) -> None:
    frame_file = text_file(tmp_path, "a.txt holds the first letter.\n")

    wrote = merkle("context", "put", "a.txt", "--file", str(frame_file), cwd=scanned.root)
    shown = merkle("context", "get", "a.txt", cwd=scanned.root)

    assert wrote.code == 0, wrote.stderr
    frame_id = query(scanned.root, "SELECT frame_id FROM frames")[0][0]
    assert f"Wrote frame {frame_id} for a.txt" in wrote.stdout
    assert shown.code == 0, shown.stderr
    lines = [one_line(line) for line in shown.stdout.splitlines()]
    assert "path a.txt" in lines
    assert f"node {tree_paths(scanned.root)['a.txt']}" in lines
    assert f"agent {AGENT}" in lines
    assert f"frame type {FRAME_TYPE}" in lines
    assert f"frame {frame_id}" in lines
    assert "made manual" in lines
    assert lines[-1] == "a.txt holds the first letter."
    assert not any(line.startswith("stale") for line in lines)


def test_put_json_reports_the_frame_and_whether_it_was_new(
    merkle: Merkle, scanned: Workspace, tmp_path: Path
) -> None:
    frame_file = text_file(tmp_path, "About a.\n")
    args = ("context", "put", "a.txt", "--file", str(frame_file))

    first = merkle(*args, "--json", cwd=scanned.root)
    again = merkle(*args, "--json", cwd=scanned.root)
    again_human = merkle(*args, cwd=scanned.root)

    assert first.code == 0, first.stderr
    payload = first.json()
    assert set(payload) == {"path", "node_id", "frame_id", "created"}
    assert payload["path"] == "a.txt"
    assert payload["node_id"] == tree_paths(scanned.root)["a.txt"]
    assert payload["created"] is True
    assert payload["frame_id"] == query(scanned.root, "SELECT frame_id FROM frames")[0][0]
    assert again.code == 0, again.stderr
    assert again.json() == {**payload, "created": False}
    assert again_human.code == 0
    assert f"Already stored: frame {payload['frame_id']}" in again_human.stdout
    assert frame_count(scanned) == 1


def test_put_reads_the_frame_from_stdin_with_file_dash(scanned: Workspace) -> None:
    completed = subprocess.run(
        [merkle_executable(), "context", "put", "src/b.py", "--file", "-", "--json"],
        cwd=scanned.root,
        env={**os.environ, "NO_COLOR": "1"},
        input="b.py sets b to one.\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    rows = query(scanned.root, "SELECT node_id, content FROM frames")
    assert rows == [(tree_paths(scanned.root)["src/b.py"], "b.py sets b to one.\n")]


REVIEWER_AGENT = """
[agents.reviewer]
role = "writer"
system_prompt = "You review code."
user_prompt_file = "Review the file {path}."
user_prompt_directory = "Review the directory {path}."
"""


def test_put_with_an_agent_and_frame_type_writes_under_that_key(
    merkle: Merkle, scanned: Workspace, tmp_path: Path
) -> None:
    with scanned.config_path.open("a", encoding="utf-8") as config:
        config.write(REVIEWER_AGENT)
    frame_file = text_file(tmp_path, "A review of a.\n")

    key = ("--agent", "reviewer", "--frame-type", "review")
    wrote = merkle("context", "put", "a.txt", "--file", str(frame_file), *key, cwd=scanned.root)
    keyed = merkle("context", "get", "a.txt", *key, "--json", cwd=scanned.root)
    default = merkle("context", "get", "a.txt", cwd=scanned.root)

    assert wrote.code == 0, wrote.stderr
    assert keyed.code == 0, keyed.stderr
    payload = keyed.json()
    assert (payload["agent_id"], payload["frame_type"]) == ("reviewer", "review")
    assert (payload["metadata"]["agent_id"], payload["metadata"]["frame_type"]) == (
        "reviewer",
        "review",
    )
    assert payload["content"] == "A review of a.\n"
    assert default.code == 1


@pytest.mark.parametrize(
    ("content", "secret"),
    [
        (f"Deploy with:\naws_access_key_id = {AWS_KEY_ID}\n", AWS_KEY_ID),
        (f"The server's key:\n{RSA_BLOCK}\n", "MIIEowIBAAKCAQEA"),
        (f"export OPENAI_API_KEY={OPENAI_KEY}\n", OPENAI_KEY),
    ],
)
def test_put_refuses_content_that_looks_like_a_credential(
    merkle: Merkle, scanned: Workspace, tmp_path: Path, content: str, secret: str
) -> None:
    frame_file = text_file(tmp_path, content)

    result = merkle("context", "put", "a.txt", "--file", str(frame_file), cwd=scanned.root)

    assert result.code == 2
    assert "credential" in result.stderr
    assert secret not in result.stderr + result.stdout
    assert (frame_count(scanned), head_count(scanned)) == (0, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("  \n\n", "is empty"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
    ],
)
def test_put_refuses_a_file_that_is_not_frame_text(
    merkle: Merkle, scanned: Workspace, tmp_path: Path, content: str | bytes, message: str
) -> None:
    frame_file = text_file(tmp_path, content)

    result = merkle("context", "put", "a.txt", "--file", str(frame_file), cwd=scanned.root)

    assert result.code == 2
    assert message in one_line(result.stderr)
    assert frame_count(scanned) == 0


def test_put_refuses_a_frame_file_that_cannot_be_read(
    merkle: Merkle, scanned: Workspace, tmp_path: Path
) -> None:
    result = merkle(
        "context", "put", "a.txt", "--file", str(tmp_path / "absent.md"), cwd=scanned.root
    )

    assert result.code == 2
    assert "cannot read" in result.stderr
    assert "Traceback" not in result.stderr
    assert frame_count(scanned) == 0


@pytest.mark.parametrize("agent", ["bad agent", "-dash"])
def test_put_refuses_an_agent_name_that_breaks_the_contract(
    merkle: Merkle, scanned: Workspace, tmp_path: Path, agent: str
) -> None:
    frame_file = text_file(tmp_path, "About a.\n")

    result = merkle(
        "context", "put", "a.txt", "--file", str(frame_file), "--agent", agent, cwd=scanned.root
    )

    assert result.code == 2
    assert agent in result.stderr
    assert "Traceback" not in result.stderr
    assert frame_count(scanned) == 0


def test_put_for_a_path_not_in_the_tree_writes_nothing_and_hints_at_scan(
    merkle: Merkle, scanned: Workspace, tmp_path: Path
) -> None:
    write_tree(scanned.root, {"new.txt": "not scanned yet\n"})
    frame_file = text_file(tmp_path, "About new.\n")

    result = merkle("context", "put", "new.txt", "--file", str(frame_file), cwd=scanned.root)

    assert result.code == 2
    assert "new.txt" in result.stderr
    assert "merkle scan" in result.stderr
    assert frame_count(scanned) == 0


# -- context get -----------------------------------------------------------------------


def test_get_json_has_the_documented_schema(merkle: Merkle, scanned: Workspace) -> None:
    frame_id = put(scanned, "a.txt", "About a.\n", at_ns=T1_NS)

    result = merkle("context", "get", "a.txt", "--json", cwd=scanned.root)

    assert result.code == 0, result.stderr
    payload = result.json()
    assert set(payload) == READ_KEYS
    node_id = tree_paths(scanned.root)["a.txt"]
    assert payload == {
        "path": "a.txt",
        "node_id": node_id,
        "stale": False,
        "stale_reason": None,
        "frame_id": frame_id,
        "frame_node_id": node_id,
        "agent_id": AGENT,
        "frame_type": FRAME_TYPE,
        "created_at": "2023-11-14T22:13:20.123+00:00",
        "content": "About a.\n",
        "metadata": {
            "agent_id": AGENT,
            "frame_type": FRAME_TYPE,
            "source": "manual",
            "provider": None,
            "provider_type": None,
            "model": None,
            "prompt_digest": None,
            "input_tokens": None,
            "output_tokens": None,
            "attempts": 0,
        },
    }


def test_get_shows_how_a_generated_frame_was_made(merkle: Merkle, scanned: Workspace) -> None:
    metadata = build_metadata(
        agent_id=AGENT,
        frame_type=FRAME_TYPE,
        source=Source.GENERATED,
        provider="openai-main",
        provider_type="openai",
        model="gpt-4o-mini",
        prompt_digest="ab" * 32,
        input_tokens=1200,
        output_tokens=300,
        attempts=2,
    )
    put(scanned, "src/b.py", "Sets b.\n", at_ns=T1_NS, metadata=metadata)

    as_json = merkle("context", "get", "src/b.py", "--json", cwd=scanned.root)
    human = merkle("context", "get", "src/b.py", cwd=scanned.root)

    assert as_json.code == 0, as_json.stderr
    assert set(as_json.json()["metadata"]) == METADATA_KEYS
    assert as_json.json()["metadata"] == metadata.to_dict()
    assert "made generated by openai-main (gpt-4o-mini)" in one_line(human.stdout)


def test_get_prints_the_head_frame_not_an_older_one(merkle: Merkle, scanned: Workspace) -> None:
    put(scanned, "a.txt", "Older.\n", at_ns=T1_NS)
    newer = put(scanned, "a.txt", "Newer.\n", at_ns=T2_NS)
    put(scanned, "a.txt", "Written last, dated first.\n", at_ns=T1_NS - 1)

    result = merkle("context", "get", "a.txt", "--json", cwd=scanned.root)

    assert result.code == 0, result.stderr
    assert (result.json()["frame_id"], result.json()["content"]) == (newer, "Newer.\n")


def test_get_after_an_edit_shows_the_earlier_frame_marked_stale(
    merkle: Merkle, scanned: Workspace
) -> None:
    before = tree_paths(scanned.root)["a.txt"]
    frame_id = put(scanned, "a.txt", "About the first version.\n", at_ns=T1_NS)
    edit(scanned, {"a.txt": "alpha, edited\n"})
    after = tree_paths(scanned.root)["a.txt"]

    as_json = merkle("context", "get", "a.txt", "--json", cwd=scanned.root)
    human = merkle("context", "get", "a.txt", cwd=scanned.root)

    assert after != before
    assert as_json.code == 0, as_json.stderr
    payload = as_json.json()
    assert payload["stale"] is True
    assert payload["node_id"] == after
    assert payload["frame_node_id"] == before
    assert payload["frame_id"] == frame_id
    assert payload["content"] == "About the first version.\n"
    assert human.code == 0, human.stderr
    assert f"stale yes: written for an earlier version ({before})" in one_line(human.stdout)
    assert "regenerate" in human.stderr


def test_get_after_an_edit_and_a_new_frame_is_no_longer_stale(
    merkle: Merkle, scanned: Workspace
) -> None:
    put(scanned, "a.txt", "About the first version.\n", at_ns=T1_NS)
    edit(scanned, {"a.txt": "alpha, edited\n"})
    current = put(scanned, "a.txt", "About the second version.\n", at_ns=T2_NS)

    result = merkle("context", "get", "a.txt", "--json", cwd=scanned.root)

    assert result.code == 0, result.stderr
    assert (result.json()["stale"], result.json()["frame_id"]) == (False, current)


def test_get_history_lists_every_frame_across_an_edit_newest_first(
    merkle: Merkle, scanned: Workspace
) -> None:
    before = tree_paths(scanned.root)["a.txt"]
    first = put(scanned, "a.txt", "On version one.\n", at_ns=T1_NS)
    edit(scanned, {"a.txt": "version two\n"})
    after = tree_paths(scanned.root)["a.txt"]
    second = put(scanned, "a.txt", "On version two.\n", at_ns=T2_NS)
    put(scanned, "src/b.py", "On b.\n", at_ns=T2_NS)

    as_json = merkle("context", "get", "a.txt", "--history", "--json", cwd=scanned.root)
    human = merkle("context", "get", "a.txt", "--history", cwd=scanned.root)

    assert as_json.code == 0, as_json.stderr
    payload = as_json.json()
    assert set(payload) == {"path", "node_id", "frames"}
    assert (payload["path"], payload["node_id"]) == ("a.txt", after)
    frames = payload["frames"]
    assert all(set(entry) == HISTORY_ENTRY_KEYS for entry in frames)
    assert [(f["frame_id"], f["node_id"], f["stale"]) for f in frames] == [
        (second, after, False),
        (first, before, True),
    ]
    assert [f["created_at"] for f in frames] == [
        "2023-11-14T22:14:20.456+00:00",
        "2023-11-14T22:13:20.123+00:00",
    ]
    assert all(set(f["metadata"]) == METADATA_KEYS for f in frames)
    assert human.code == 0, human.stderr
    assert human.stdout.index("On version two.") < human.stdout.index("On version one.")
    assert f"{first} (earlier version)" in human.stdout
    assert f"{second} (earlier version)" not in human.stdout


def test_get_history_of_a_path_without_frames_is_empty(merkle: Merkle, scanned: Workspace) -> None:
    result = merkle("context", "get", "a.txt", "--history", "--json", cwd=scanned.root)

    assert result.code == 0, result.stderr
    assert result.json() == {
        "path": "a.txt",
        "node_id": tree_paths(scanned.root)["a.txt"],
        "frames": [],
    }


def test_get_of_a_path_without_a_frame_fails_with_a_hint_to_generate(
    merkle: Merkle, scanned: Workspace
) -> None:
    human = merkle("context", "get", "a.txt", cwd=scanned.root)
    as_json = merkle("context", "get", "a.txt", "--json", cwd=scanned.root)

    assert human.code == 1
    assert f"no {FRAME_TYPE} frame of agent {AGENT} for a.txt" in human.stderr
    assert "merkle context generate a.txt" in human.stderr
    assert as_json.code == 1
    assert as_json.json()["error"]["type"] == "WorkFailed"


def test_get_of_a_path_not_in_the_tree_exits_2_with_a_hint_to_scan(
    merkle: Merkle, scanned: Workspace
) -> None:
    write_tree(scanned.root, {"new.txt": "written after the scan\n"})

    human = merkle("context", "get", "new.txt", cwd=scanned.root)
    as_json = merkle("context", "get", "src/missing.py", "--json", cwd=scanned.root)

    assert human.code == 2
    assert "new.txt" in human.stderr
    assert "merkle scan" in human.stderr
    assert "Traceback" not in human.stderr
    assert as_json.code == 2
    error = as_json.json()["error"]
    assert (error["type"], error["exit_code"]) == ("NodeNotFound", 2)
    assert "src/missing.py" in error["message"]
    assert "merkle scan" in error["hint"]


def test_get_refuses_a_path_outside_the_workspace(
    merkle: Merkle, scanned: Workspace, tmp_path: Path
) -> None:
    outside = text_file(tmp_path, "elsewhere\n", name="outside.txt")

    result = merkle("context", "get", str(outside), cwd=scanned.root)

    assert result.code == 2
    assert "outside the workspace" in result.stderr


def test_get_resolves_a_path_relative_to_the_current_directory(
    merkle: Merkle, scanned: Workspace
) -> None:
    put(scanned, "src/b.py", "Sets b.\n", at_ns=T1_NS)

    result = merkle("context", "get", "b.py", "--json", cwd=scanned.root / "src")

    assert result.code == 0, result.stderr
    assert (result.json()["path"], result.json()["content"]) == ("src/b.py", "Sets b.\n")


def test_get_of_a_directory_and_the_root(merkle: Merkle, scanned: Workspace) -> None:
    put(scanned, "src", "The sources.\n", at_ns=T1_NS)
    put(scanned, ".", "The workspace.\n", at_ns=T1_NS)

    directory = merkle("context", "get", "src", "--json", cwd=scanned.root)
    root = merkle("context", "get", ".", "--json", cwd=scanned.root)

    assert directory.code == 0, directory.stderr
    assert directory.json()["content"] == "The sources.\n"
    assert root.code == 0, root.stderr
    assert (root.json()["path"], root.json()["content"]) == (".", "The workspace.\n")


def test_get_by_node_id_prefix_reads_the_same_frame(merkle: Merkle, scanned: Workspace) -> None:
    put(scanned, "a.txt", "About a.\n", at_ns=T1_NS)
    node_id = tree_paths(scanned.root)["a.txt"]

    by_path = merkle("context", "get", "a.txt", "--json", cwd=scanned.root)
    by_node = merkle("context", "get", "--node", node_id[:10], "--json", cwd=scanned.root)

    assert by_node.code == 0, by_node.stderr
    assert by_node.json() == by_path.json()


def test_get_by_the_node_id_of_an_earlier_version_reads_that_versions_frame(
    merkle: Merkle, scanned: Workspace
) -> None:
    before = tree_paths(scanned.root)["a.txt"]
    frame_id = put(scanned, "a.txt", "About the first version.\n", at_ns=T1_NS)
    edit(scanned, {"a.txt": "alpha, edited\n"})

    result = merkle("context", "get", "--node", before, "--json", cwd=scanned.root)

    assert result.code == 0, result.stderr
    payload: dict[str, Any] = result.json()
    assert (payload["node_id"], payload["frame_id"], payload["stale"]) == (before, frame_id, False)


@pytest.mark.parametrize(
    "args",
    [
        ("context", "get"),
        ("context", "get", "a.txt", "--node", "abcd"),
        ("context", "get", "--node", "abc"),
        ("context", "get", "--node", "ffffffff"),
    ],
)
def test_get_needs_exactly_one_known_path_or_node(
    merkle: Merkle, scanned: Workspace, args: tuple[str, ...]
) -> None:
    result = merkle(*args, cwd=scanned.root)

    assert result.code == 2
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr
