"""The Merkle builder: node records and tree entries from a walk and its content hashes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from merkle.store.records import NodeRecord, NodeType, TreeEntry
from merkle.tree.hashing import directory_node_id, file_node_id
from merkle.tree.paths import name_of, parent_of
from merkle.tree.walker import WalkedDirectory


class FileHash(NamedTuple):
    """A file's content hash and when it was taken from the file."""

    content_hash: str
    checked_at_ns: int


@dataclass(slots=True, kw_only=True)
class BuiltTree:
    """Every node of the tree, leaves before their parents, with its tree entry."""

    root_id: str
    records: list[NodeRecord]
    entries: list[TreeEntry]
    files: int
    directories: int
    size_bytes: int


class _Builder:
    def __init__(self, hashes: Mapping[str, FileHash], cached: Mapping[str, TreeEntry]) -> None:
        self.hashes = hashes
        self.cached = cached
        self.records: list[NodeRecord] = []
        self.entries: list[TreeEntry] = []
        self.files = 0

    def file_id(self, path: str, content_hash: str) -> str:
        # A path whose content is unchanged keeps its id: spare re-deriving it.
        previous = self.cached.get(path)
        if previous is not None and previous.content_hash == content_hash:
            return previous.node_id
        return file_node_id(path, content_hash)

    def directory(self, walked: WalkedDirectory) -> NodeRecord:
        children: list[tuple[str, str]] = []
        size = 0
        for file in walked.files:
            file_hash = self.hashes.get(file.path)
            if file_hash is None:
                continue  # it could not be read; the scan has warned
            content_hash = file_hash.content_hash
            record = NodeRecord(
                node_id=self.file_id(file.path, content_hash),
                path=file.path,
                node_type=NodeType.FILE,
                size_bytes=file.size_bytes,
                content_hash=content_hash,
            )
            self.add(
                record,
                mtime_ns=file.mtime_ns,
                inode=file.inode,
                checked_at_ns=file_hash.checked_at_ns,
            )
            self.files += 1
            children.append((name_of(file.path), record.node_id))
            size += file.size_bytes
        for sub in walked.directories:
            record = self.directory(sub)
            children.append((name_of(sub.path), record.node_id))
            size += record.size_bytes
        children.sort()
        record = NodeRecord(
            node_id=directory_node_id(walked.path, children),
            path=walked.path,
            node_type=NodeType.DIRECTORY,
            size_bytes=size,
            children=tuple(children),
        )
        self.add(record, mtime_ns=0, inode=0, checked_at_ns=0)
        return record

    def add(self, record: NodeRecord, *, mtime_ns: int, inode: int, checked_at_ns: int) -> None:
        self.records.append(record)
        self.entries.append(
            TreeEntry(
                path=record.path,
                node_id=record.node_id,
                node_type=record.node_type,
                parent_path=parent_of(record.path),
                size_bytes=record.size_bytes,
                mtime_ns=mtime_ns,
                inode=inode,
                content_hash=record.content_hash,
                checked_at_ns=checked_at_ns,
            )
        )


def build_tree(
    root: WalkedDirectory,
    hashes: Mapping[str, FileHash],
    *,
    cached: Mapping[str, TreeEntry] | None = None,
) -> BuiltTree:
    """Derive every NodeID bottom-up from the walked tree and the files' content hashes.

    Files without a content hash (unreadable) are left out. `cached` is the
    previous tree, whose ids are reused for paths whose content is unchanged.
    """
    builder = _Builder(hashes, cached or {})
    record = builder.directory(root)
    return BuiltTree(
        root_id=record.node_id,
        records=builder.records,
        entries=builder.entries,
        files=builder.files,
        directories=len(builder.records) - builder.files,
        size_bytes=record.size_bytes,
    )
