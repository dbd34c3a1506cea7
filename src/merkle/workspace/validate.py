"""`merkle workspace validate`: every stored record re-derives and links up."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from merkle.errors import StoreError
from merkle.store import Database, NodeRecord, NodeRecordStore, NodeType
from merkle.tree.hashing import directory_node_id, file_node_id
from merkle.tree.paths import ROOT, join
from merkle.workspace.layout import Workspace

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the store: its kind, what it concerns, and what is wrong."""

    kind: str
    subject: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    """What validation checked and what it found wrong."""

    records_checked: int
    tree_entries_checked: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems


def _derived_id(record: NodeRecord) -> str | None:
    if record.node_type is NodeType.FILE:
        if record.content_hash is None or not _HEX64.fullmatch(record.content_hash):
            return None
        return file_node_id(record.path, record.content_hash)
    if not all(_HEX64.fullmatch(child_id) for _, child_id in record.children):
        return None
    return directory_node_id(record.path, record.children)


def _check_record(record: NodeRecord, records: dict[str, NodeRecord]) -> list[Problem]:
    problems: list[Problem] = []
    derived = _derived_id(record)
    if derived != record.node_id:
        problems.append(
            Problem(
                "id_mismatch",
                record.node_id,
                f"{record.path}: id does not re-derive from its content",
            )
        )
    for name, child_id in record.children:
        child = records.get(child_id)
        if child is None:
            problems.append(
                Problem(
                    "missing_child",
                    record.node_id,
                    f"{record.path}: child {name} ({child_id}) is not stored",
                )
            )
        elif child.path != join(record.path, name):
            problems.append(
                Problem(
                    "child_path", child_id, f"{record.path}: child {name} is stored at {child.path}"
                )
            )
    return problems


def _check_tree(
    root_id: str, records: dict[str, NodeRecord], tree: dict[str, str]
) -> list[Problem]:
    """The current tree must be exactly the nodes reachable from the root."""
    root = records.get(root_id)
    if root is None:
        return [Problem("missing_root", root_id, "the root of the last scan is not stored")]
    problems: list[Problem] = []
    if root.path != ROOT:
        problems.append(Problem("missing_root", root_id, f"the root is stored at {root.path}"))
    reachable: dict[str, str] = {}
    stack = [root]
    while stack:
        record = stack.pop()
        if record.path in reachable:
            problems.append(Problem("cycle", record.node_id, f"{record.path} is reached twice"))
            continue
        reachable[record.path] = record.node_id
        stack.extend(records[c] for _, c in record.children if c in records)
    for path, node_id in sorted(tree.items()):
        if reachable.get(path) != node_id:
            problems.append(
                Problem(
                    "tree_entry", path, f"{path}: current tree entry is not reachable from the root"
                )
            )
    for path in sorted(reachable.keys() - tree.keys()):
        problems.append(
            Problem("tree_entry", path, f"{path}: reachable from the root but not in the tree")
        )
    return problems


def validate_workspace(workspace: Workspace) -> ValidationReport:
    """Re-derive every stored record's id and check that the tree links up."""
    try:
        with Database.open(workspace.database_path) as database:
            store = NodeRecordStore(database)
            problems = [Problem("integrity", "database", m) for m in store.integrity_problems()]
            records = {record.node_id: record for record in store.iter_records()}
            tree = store.tree_paths()
            last_scan = store.last_scan()
    except sqlite3.DatabaseError as error:
        raise StoreError(
            f"cannot read the database {workspace.database_path}: {error}",
            hint="the file is damaged; move it aside and run `merkle init` and `merkle scan`",
        ) from error
    for record in records.values():
        problems.extend(_check_record(record, records))
    if last_scan is not None:
        problems.extend(_check_tree(last_scan.root_node_id, records, tree))
    return ValidationReport(
        records_checked=len(records), tree_entries_checked=len(tree), problems=tuple(problems)
    )
