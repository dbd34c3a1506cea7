"""`merkle workspace validate`: every stored record re-derives and links up."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from merkle.errors import MetadataRejected
from merkle.metadata import validate_metadata
from merkle.store import FrameRepository, NodeRecord, NodeType, StorageBackend
from merkle.tree.hashing import directory_node_id, file_node_id, frame_id_of
from merkle.tree.paths import ROOT, join

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
    frames_checked: int
    heads_checked: int
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


def _check_frames(
    storage: FrameRepository, records: dict[str, NodeRecord]
) -> tuple[list[Problem], dict[str, tuple[str, str, str]], int]:
    """Every frame re-derives its id, names a stored node and carries valid metadata.

    Returns the problems, each frame's key by id (for the heads), and the count.
    """
    problems: list[Problem] = []
    keys: dict[str, tuple[str, str, str]] = {}
    for frame in storage.iter_frames():
        keys[frame.frame_id] = (frame.node_id, frame.agent_id, frame.frame_type)
        derived = (
            frame_id_of(
                node_id=frame.node_id,
                agent_id=frame.agent_id,
                frame_type=frame.frame_type,
                content=frame.content,
                metadata_json=frame.metadata_json,
            )
            if _HEX64.fullmatch(frame.node_id)
            else None
        )
        if derived != frame.frame_id:
            problems.append(
                Problem("frame_id_mismatch", frame.frame_id, "frame id does not re-derive")
            )
        if frame.node_id not in records:
            problems.append(
                Problem("frame_node", frame.frame_id, f"frame's node {frame.node_id} is not stored")
            )
        try:
            metadata = validate_metadata(json.loads(frame.metadata_json))
        except (MetadataRejected, ValueError) as error:
            problems.append(Problem("frame_metadata", frame.frame_id, f"metadata: {error}"))
            continue
        if (metadata.agent_id, metadata.frame_type) != (frame.agent_id, frame.frame_type):
            problems.append(
                Problem("frame_metadata", frame.frame_id, "metadata names another agent or type")
            )
    return problems, keys, len(keys)


def _check_heads(
    heads: FrameRepository, frame_keys: dict[str, tuple[str, str, str]]
) -> tuple[list[Problem], int]:
    """Every head points at a stored frame of its own key."""
    problems: list[Problem] = []
    count = 0
    for head in heads.iter_heads():
        count += 1
        key = (head.node_id, head.agent_id, head.frame_type)
        subject = f"{head.node_id}/{head.agent_id}/{head.frame_type}"
        frame_key = frame_keys.get(head.frame_id)
        if frame_key is None:
            problems.append(
                Problem("head_frame", subject, f"head points at missing frame {head.frame_id}")
            )
        elif frame_key != key:
            problems.append(
                Problem("head_key", subject, f"head points at frame {head.frame_id} of another key")
            )
    return problems, count


def validate_workspace(store: StorageBackend) -> ValidationReport:
    """Re-derive every stored record's id and check that the tree links up."""
    problems = [Problem("integrity", "database", m) for m in store.integrity_problems()]
    records = {record.node_id: record for record in store.nodes.iter_records()}
    tree = store.nodes.tree_paths()
    last_scan = store.nodes.last_scan()
    frame_problems, frame_keys, frames_checked = _check_frames(store.frames, records)
    head_problems, heads_checked = _check_heads(store.frames, frame_keys)
    for record in records.values():
        problems.extend(_check_record(record, records))
    if last_scan is not None:
        problems.extend(_check_tree(last_scan.root_node_id, records, tree))
    problems.extend(frame_problems)
    problems.extend(head_problems)
    return ValidationReport(
        records_checked=len(records),
        tree_entries_checked=len(tree),
        frames_checked=frames_checked,
        heads_checked=heads_checked,
        problems=tuple(problems),
    )
