"""The Merkle builder: node ids bottom-up from a walk and its content hashes.

Against the previous tree, only what changed is produced: a file or directory
whose id and stat are unchanged yields no new record and no tree entry to
write, and a directory whose listing and children are unchanged keeps its id
without hashing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from merkle.store.records import NodeRecord, NodeType, TreeEntry
from merkle.tree.hashing import directory_node_id, file_node_id
from merkle.tree.paths import name_of, parent_of
from merkle.tree.walker import WalkedDirectory, WalkedFile


class FileHash(NamedTuple):
    """A file's content hash and when it was taken from the file."""

    content_hash: str
    checked_at_ns: int


@dataclass(slots=True, kw_only=True)
class BuiltTree:
    """The tree's root id and totals, with what differs from the previous tree.

    `records` are the node records the previous tree did not have at their path,
    leaves before parents; `entries` the tree entries to write; `present` every
    path of the new tree.
    """

    root_id: str
    size_bytes: int
    files: int
    records: list[NodeRecord] = field(default_factory=list)
    entries: list[TreeEntry] = field(default_factory=list)
    present: set[str] = field(default_factory=set)


class _Builder:
    def __init__(
        self, hashes: Mapping[str, FileHash], cached: Mapping[str, TreeEntry], out: BuiltTree
    ) -> None:
        self.hashes = hashes
        self.cached = cached
        self.out = out

    def file(self, file: WalkedFile, file_hash: FileHash) -> str:
        previous = self.cached.get(file.path)
        if previous is not None and previous.content_hash == file_hash.content_hash:
            node_id = previous.node_id  # same path, same content: same id
            if (
                previous.size_bytes == file.size_bytes
                and previous.mtime_ns == file.mtime_ns
                and previous.inode == file.inode
                and previous.checked_at_ns == file_hash.checked_at_ns
            ):
                return node_id
        else:
            node_id = file_node_id(file.path, file_hash.content_hash)
        record = NodeRecord(
            node_id=node_id,
            path=file.path,
            node_type=NodeType.FILE,
            size_bytes=file.size_bytes,
            content_hash=file_hash.content_hash,
        )
        self.emit(
            record,
            previous,
            mtime_ns=file.mtime_ns,
            inode=file.inode,
            checked_at_ns=file_hash.checked_at_ns,
        )
        return node_id

    def directory(self, walked: WalkedDirectory) -> tuple[str, int]:
        """The directory's node id and size in bytes."""
        children: list[tuple[str, str]] = []
        size = 0
        changed = walked.listing_changed
        unread = 0
        for file in walked.files:
            file_hash = self.hashes.get(file.path)
            if file_hash is None:
                unread += 1  # it could not be read; the scan has warned
                continue
            node_id = self.file(file, file_hash)
            previous = self.cached.get(file.path)
            changed = changed or previous is None or previous.node_id != node_id
            children.append((name_of(file.path), node_id))
            size += file.size_bytes
            self.out.present.add(file.path)
            self.out.files += 1
        for sub in walked.directories:
            node_id, sub_size = self.directory(sub)
            previous = self.cached.get(sub.path)
            changed = changed or previous is None or previous.node_id != node_id
            children.append((name_of(sub.path), node_id))
            size += sub_size
        self.out.present.add(walked.path)
        previous = self.cached.get(walked.path)
        warnings = walked.warnings + unread
        if not changed and not unread and previous is not None:
            node_id = previous.node_id
        else:
            children.sort()
            node_id = directory_node_id(walked.path, children)
        entry_current = previous is not None and (
            previous.node_id,
            previous.mtime_ns,
            previous.inode,
            previous.checked_at_ns,
            previous.rules_signature,
            previous.ignored_count,
            previous.warning_count,
        ) == (
            node_id,
            walked.mtime_ns,
            walked.inode,
            walked.checked_at_ns,
            walked.rules_signature,
            walked.ignored,
            warnings,
        )
        if not entry_current:
            record = NodeRecord(
                node_id=node_id,
                path=walked.path,
                node_type=NodeType.DIRECTORY,
                size_bytes=size,
                children=tuple(sorted(children)),
            )
            self.emit(
                record,
                previous,
                mtime_ns=walked.mtime_ns,
                inode=walked.inode,
                checked_at_ns=walked.checked_at_ns,
                rules_signature=walked.rules_signature,
                ignored_count=walked.ignored,
                warning_count=warnings,
            )
        return node_id, size

    def emit(
        self,
        record: NodeRecord,
        previous: TreeEntry | None,
        *,
        mtime_ns: int,
        inode: int,
        checked_at_ns: int,
        rules_signature: str = "",
        ignored_count: int = 0,
        warning_count: int = 0,
    ) -> None:
        if previous is None or previous.node_id != record.node_id:
            self.out.records.append(record)
        self.out.entries.append(
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
                rules_signature=rules_signature,
                ignored_count=ignored_count,
                warning_count=warning_count,
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
    previous tree by path: what matches it is reused and not emitted again.
    """
    out = BuiltTree(root_id="", size_bytes=0, files=0)
    out.root_id, out.size_bytes = _Builder(hashes, cached or {}, out).directory(root)
    return out
