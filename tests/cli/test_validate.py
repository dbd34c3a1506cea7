"""`merkle workspace validate`: a clean store checks out, a damaged one is caught (exit 1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import scan
from tests.support.cli import CliResult
from tests.support.store import connect, query, tree_paths

Merkle = Callable[..., CliResult]

TREE: dict[str, bytes | str] = {"a.txt": "alpha", "src/b.py": "b = 1\n", "src/c.py": "c = 2\n"}
MISSING_ID = "f" * 64


@pytest.fixture
def scanned(workspace: Workspace) -> Workspace:
    """A workspace with a small tree, scanned once."""
    write_tree(workspace.root, TREE)
    scan(workspace)
    return workspace


def validate_json(merkle: Merkle, workspace: Workspace) -> tuple[int, dict[str, Any]]:
    result = merkle("workspace", "validate", "--json", cwd=workspace.root)
    payload = result.json()
    assert isinstance(payload, dict)
    return result.code, payload


def test_validate_of_a_fresh_workspace_is_ok(merkle: Merkle, workspace: Workspace) -> None:
    code, payload = validate_json(merkle, workspace)

    assert code == 0
    expected = {
        "ok": True,
        "records_checked": 0,
        "tree_entries_checked": 0,
        "problems": [],
    }
    assert {key: payload[key] for key in expected} == expected


def test_validate_of_a_clean_store_is_ok(merkle: Merkle, scanned: Workspace) -> None:
    code, payload = validate_json(merkle, scanned)
    human = merkle("workspace", "validate", cwd=scanned.root)

    assert code == 0
    assert payload["ok"] is True
    assert payload["problems"] == []
    assert payload["records_checked"] == 5  # three files, the root and src
    assert payload["tree_entries_checked"] == 5
    assert human.code == 0, human.stderr
    assert re.match(r"ok: 5 node records,? (and )?5 tree entries", human.stdout)


def test_validate_finds_a_file_record_whose_id_does_not_re_derive(
    merkle: Merkle, scanned: Workspace
) -> None:
    node_id = tree_paths(scanned.root)["a.txt"]
    with connect(scanned.root) as connection:
        connection.execute(
            "UPDATE nodes SET content_hash = ? WHERE node_id = ?", ("0" * 64, node_id)
        )

    code, payload = validate_json(merkle, scanned)

    assert code == 1
    assert payload["ok"] is False
    assert {(p["kind"], p["subject"]) for p in payload["problems"]} == {("id_mismatch", node_id)}


def test_validate_finds_a_directory_whose_child_record_is_missing(
    merkle: Merkle, scanned: Workspace
) -> None:
    tree = tree_paths(scanned.root)
    with connect(scanned.root) as connection:
        connection.execute("DELETE FROM nodes WHERE node_id = ?", (tree["src/b.py"],))

    code, payload = validate_json(merkle, scanned)

    assert code == 1
    kinds = {(p["kind"], p["subject"]) for p in payload["problems"]}
    assert ("missing_child", tree["src"]) in kinds
    # The tree entry of src/b.py now names a record that is not there either.
    assert ("tree_entry", "src/b.py") in kinds


def test_validate_finds_a_tree_entry_pointing_at_no_record(
    merkle: Merkle, scanned: Workspace
) -> None:
    with connect(scanned.root) as connection:
        connection.execute(
            "UPDATE tree_entries SET node_id = ? WHERE path = ?", (MISSING_ID, "src/c.py")
        )

    code, payload = validate_json(merkle, scanned)

    assert code == 1
    assert {(p["kind"], p["subject"]) for p in payload["problems"]} == {("tree_entry", "src/c.py")}


def test_validate_of_a_damaged_store_lists_the_problems_and_exits_1(
    merkle: Merkle, scanned: Workspace
) -> None:
    with connect(scanned.root) as connection:
        connection.execute(
            "UPDATE tree_entries SET node_id = ? WHERE path = ?", (MISSING_ID, "a.txt")
        )

    result = merkle("workspace", "validate", cwd=scanned.root)

    assert result.code == 1
    assert re.search(r"tree_entry\s+a\.txt: current tree entry is not reachable", result.stdout)
    assert "error: 1 problem in the store" in result.stderr


def test_validate_does_not_change_the_store(merkle: Merkle, scanned: Workspace) -> None:
    with connect(scanned.root) as connection:
        connection.execute(
            "UPDATE tree_entries SET node_id = ? WHERE path = ?", (MISSING_ID, "a.txt")
        )
    before = (
        query(scanned.root, "SELECT * FROM nodes ORDER BY node_id"),
        query(scanned.root, "SELECT * FROM tree_entries ORDER BY path"),
    )

    code, _ = validate_json(merkle, scanned)

    assert code == 1
    assert before == (
        query(scanned.root, "SELECT * FROM nodes ORDER BY node_id"),
        query(scanned.root, "SELECT * FROM tree_entries ORDER BY path"),
    )
