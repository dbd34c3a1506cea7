"""`merkle workspace validate` checks frames and heads: ids re-derive, heads match their frames."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from merkle.context.api import ContextApi, FrameDraft
from merkle.metadata import Source, build_metadata
from merkle.store import FrameKey
from merkle.tree.hashing import frame_id_of
from merkle.workspace.layout import Workspace
from merkle.workspace.validate import validate_workspace
from tests.conftest import write_tree
from tests.support.apps import backend, scan
from tests.support.cli import CliResult
from tests.support.store import connect, query, tree_paths

Merkle = Callable[..., CliResult]

AGENT = "docs-writer"
FRAME_TYPE = "context"
MISSING_ID = "f" * 64
MANUAL_JSON = build_metadata(
    agent_id=AGENT, frame_type=FRAME_TYPE, source=Source.MANUAL
).canonical_json()


@dataclass
class Stored:
    """A scanned workspace with frames: two for a.txt (the second is its head), one for b.py."""

    workspace: Workspace
    ids: dict[str, str]  # path -> node id
    a_old: str
    a_head: str
    b_head: str

    @property
    def root(self) -> Path:
        return self.workspace.root


@pytest.fixture
def stored(workspace: Workspace) -> Stored:
    write_tree(workspace.root, {"a.txt": "alpha\n", "src/b.py": "b = 1\n"})
    scan(workspace)
    ids = tree_paths(workspace.root)
    clock = iter(range(100, 1000, 100))
    metadata = build_metadata(agent_id=AGENT, frame_type=FRAME_TYPE, source=Source.MANUAL)
    written = []
    with backend(workspace) as store:
        api = ContextApi(store, clock_ns=lambda: next(clock))
        for path, content in (("a.txt", "A, first."), ("a.txt", "A, second."), ("src/b.py", "B.")):
            draft = FrameDraft(
                key=FrameKey(ids[path], AGENT, FRAME_TYPE),
                content=content,
                metadata=metadata,
            )
            written.append(api.put_frame(draft).frame_id)
    return Stored(workspace, ids, *written)


def validate_json(merkle: Merkle, stored: Stored) -> tuple[int, dict[str, Any]]:
    result = merkle("workspace", "validate", "--json", cwd=stored.root)
    payload = result.json()
    assert isinstance(payload, dict), result.stderr
    return result.code, payload


def problems(payload: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["kind"], p["subject"]) for p in payload["problems"]}


def head_subject(node_id: str) -> str:
    return f"{node_id}/{AGENT}/{FRAME_TYPE}"


def insert_frame(
    stored: Stored,
    *,
    node_id: str,
    content: str,
    metadata_json: str = MANUAL_JSON,
    agent_id: str = AGENT,
) -> str:
    """Insert a frame behind the API's back, with an id that re-derives from what is stored."""
    frame_id = frame_id_of(
        node_id=node_id,
        agent_id=agent_id,
        frame_type=FRAME_TYPE,
        content=content,
        metadata_json=metadata_json,
    )
    with connect(stored.root) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute(
            "INSERT INTO frames (frame_id, node_id, agent_id, frame_type, content, metadata,"
            " created_at_ns) VALUES (?, ?, ?, ?, ?, ?, 1)",
            (frame_id, node_id, agent_id, FRAME_TYPE, content, metadata_json),
        )
    return frame_id


def test_validate_of_a_store_with_frames_and_heads_is_ok(merkle: Merkle, stored: Stored) -> None:
    code, payload = validate_json(merkle, stored)
    human = merkle("workspace", "validate", cwd=stored.root)

    assert code == 0
    assert payload["ok"] is True
    assert payload["problems"] == []
    assert (payload["frames_checked"], payload["heads_checked"]) == (3, 2)
    assert human.code == 0, human.stderr
    assert "3 frames and 2 heads check out" in " ".join(human.stdout.split())


def test_validate_finds_a_frame_whose_content_was_changed(merkle: Merkle, stored: Stored) -> None:
    with connect(stored.root) as connection:
        connection.execute("DROP TRIGGER frames_are_not_updated")
        connection.execute(
            "UPDATE frames SET content = 'Tampered.' WHERE frame_id = ?", (stored.a_old,)
        )

    code, payload = validate_json(merkle, stored)

    assert code == 1
    assert payload["ok"] is False
    assert problems(payload) == {("frame_id_mismatch", stored.a_old)}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("agent_id", "someone-else"),
        ("frame_type", "summary"),
        ("metadata", MANUAL_JSON.replace('"attempts":0', '"attempts":1')),
        ("frame_id", "0" * 64),
    ],
)
def test_validate_finds_a_frame_whose_id_does_not_re_derive_from_any_field(
    stored: Stored, column: str, value: str
) -> None:
    with connect(stored.root) as connection:
        connection.execute("DROP TRIGGER frames_are_not_updated")
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute(
            f"UPDATE frames SET {column} = ? WHERE frame_id = ?", (value, stored.b_head)
        )

    # The variants run in-process; the command itself is exercised by the other tests.
    with backend(stored.workspace) as store:
        report = validate_workspace(store)

    assert not report.ok
    assert "frame_id_mismatch" in {problem.kind for problem in report.problems}


def test_validate_finds_a_frame_of_a_node_that_is_not_stored(
    merkle: Merkle, stored: Stored
) -> None:
    frame_id = insert_frame(stored, node_id="e" * 64, content="About a node that never was.")

    code, payload = validate_json(merkle, stored)

    assert code == 1
    assert problems(payload) == {("frame_node", frame_id)}


@pytest.mark.parametrize(
    "metadata_json",
    [
        json.dumps({**json.loads(MANUAL_JSON), "prompt": "Summarise this file."}),
        json.dumps({**json.loads(MANUAL_JSON), "model": "sk-" + "abcdefghijklmnopqrstuvwx1234"}),
        json.dumps({**json.loads(MANUAL_JSON), "input_tokens": -1}),
        json.dumps({"agent_id": AGENT, "frame_type": FRAME_TYPE}),
        json.dumps({**json.loads(MANUAL_JSON), "agent_id": "reviewer"}),
        "{not json",
    ],
    ids=["prompt", "credential", "negative", "missing-source", "other-agent", "not-json"],
)
def test_validate_finds_a_frame_whose_metadata_breaks_the_contract(
    stored: Stored, metadata_json: str
) -> None:
    frame_id = insert_frame(
        stored, node_id=stored.ids["a.txt"], content="Bad metadata.", metadata_json=metadata_json
    )

    with backend(stored.workspace) as store:
        report = validate_workspace(store)

    assert {(p.kind, p.subject) for p in report.problems} == {("frame_metadata", frame_id)}


def test_validate_command_reports_bad_frame_metadata(merkle: Merkle, stored: Stored) -> None:
    frame_id = insert_frame(
        stored,
        node_id=stored.ids["a.txt"],
        content="Bad metadata.",
        metadata_json=json.dumps({**json.loads(MANUAL_JSON), "messages": []}),
    )

    code, payload = validate_json(merkle, stored)

    assert code == 1
    assert problems(payload) == {("frame_metadata", frame_id)}
    assert "messages" in payload["problems"][0]["message"]


def test_validate_finds_a_head_that_points_at_a_missing_frame(
    merkle: Merkle, stored: Stored
) -> None:
    with connect(stored.root) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute(
            "UPDATE heads SET frame_id = ? WHERE node_id = ?", (MISSING_ID, stored.ids["a.txt"])
        )

    code, payload = validate_json(merkle, stored)

    assert code == 1
    assert problems(payload) == {("head_frame", head_subject(stored.ids["a.txt"]))}
    assert any(MISSING_ID in p["message"] for p in payload["problems"])


def test_validate_finds_a_head_whose_frame_was_deleted(merkle: Merkle, stored: Stored) -> None:
    with connect(stored.root) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("DROP TRIGGER frames_are_not_deleted")
        connection.execute("DELETE FROM frames WHERE frame_id = ?", (stored.b_head,))

    code, payload = validate_json(merkle, stored)

    assert code == 1
    assert problems(payload) == {("head_frame", head_subject(stored.ids["src/b.py"]))}


def test_validate_finds_a_head_that_points_at_a_frame_of_another_node(
    merkle: Merkle, stored: Stored
) -> None:
    with connect(stored.root) as connection:
        connection.execute(
            "UPDATE heads SET frame_id = ? WHERE node_id = ?", (stored.b_head, stored.ids["a.txt"])
        )

    code, payload = validate_json(merkle, stored)

    assert code == 1
    assert problems(payload) == {("head_key", head_subject(stored.ids["a.txt"]))}


@pytest.mark.parametrize("column", ["agent_id", "frame_type"])
def test_validate_finds_a_head_that_points_at_a_frame_of_another_agent_or_type(
    merkle: Merkle, stored: Stored, column: str
) -> None:
    with connect(stored.root) as connection:
        connection.execute(
            f"UPDATE heads SET {column} = 'other' WHERE node_id = ?", (stored.ids["src/b.py"],)
        )
    key = {"agent_id": AGENT, "frame_type": FRAME_TYPE, column: "other"}
    subject = f"{stored.ids['src/b.py']}/{key['agent_id']}/{key['frame_type']}"

    code, payload = validate_json(merkle, stored)

    assert code == 1
    assert problems(payload) == {("head_key", subject)}


def test_validate_reports_every_kind_of_frame_and_head_problem_at_once(
    merkle: Merkle, stored: Stored
) -> None:
    orphan = insert_frame(stored, node_id="e" * 64, content="Orphan.")
    bad_metadata = insert_frame(
        stored, node_id=stored.ids["a.txt"], content="Bad.", metadata_json='{"prompt": "x"}'
    )
    with connect(stored.root) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("DROP TRIGGER frames_are_not_updated")
        connection.execute(
            "UPDATE frames SET content = 'Changed.' WHERE frame_id = ?", (stored.a_old,)
        )
        connection.execute(
            "UPDATE heads SET frame_id = ? WHERE node_id = ?", (MISSING_ID, stored.ids["a.txt"])
        )
        connection.execute(
            "UPDATE heads SET frame_id = ? WHERE node_id = ?",
            (stored.a_old, stored.ids["src/b.py"]),
        )

    code, payload = validate_json(merkle, stored)
    human = merkle("workspace", "validate", cwd=stored.root)

    assert code == 1
    assert problems(payload) == {
        ("frame_id_mismatch", stored.a_old),
        ("frame_node", orphan),
        ("frame_metadata", bad_metadata),
        ("head_frame", head_subject(stored.ids["a.txt"])),
        ("head_key", head_subject(stored.ids["src/b.py"])),
    }
    assert (payload["frames_checked"], payload["heads_checked"]) == (5, 2)
    assert human.code == 1
    for kind in ("frame_id_mismatch", "frame_node", "frame_metadata", "head_frame", "head_key"):
        assert re.search(rf"^{kind}\s+\S", human.stdout, re.MULTILINE), kind
    assert "error: 5 problems in the store" in human.stderr


def test_validate_does_not_change_frames_or_heads(merkle: Merkle, stored: Stored) -> None:
    with connect(stored.root) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("UPDATE heads SET frame_id = ?", (MISSING_ID,))
    before = (
        query(stored.root, "SELECT * FROM frames ORDER BY frame_id"),
        query(stored.root, "SELECT * FROM heads ORDER BY node_id"),
    )

    code, _ = validate_json(merkle, stored)

    assert code == 1
    assert before == (
        query(stored.root, "SELECT * FROM frames ORDER BY frame_id"),
        query(stored.root, "SELECT * FROM heads ORDER BY node_id"),
    )
