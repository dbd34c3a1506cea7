"""`merkle scan`: walk, hash what changed, derive the ids, store the tree."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from merkle.store import Database, NodeRecord, NodeRecordStore, ScanCounts, ScanRecord, TreeEntry
from merkle.tree.builder import BuiltTree, FileHash, build_tree
from merkle.tree.hashing import CHUNK_BYTES, hash_file
from merkle.tree.walker import WalkedDirectory, WalkedFile, WalkWarning, iter_files, walk
from merkle.workspace.ignore import WorkspaceIgnore
from merkle.workspace.layout import Workspace

# A file modified this close before its hash was taken may change again within
# the same timestamp tick without its stat changing (git's "racily clean"
# entries): such a file is hashed again at the next scan. Two seconds covers the
# coarsest common file systems.
RACY_MARGIN_NS = 2_000_000_000


class ScanProgress(Protocol):
    """Told how a scan advances, for a progress display."""

    def walked(self, files: int) -> None:
        """`files` files seen so far by the walk."""

    def hashing(self, *, files: int, size_bytes: int) -> None:
        """The walk is done; `files` files of `size_bytes` in all are to be hashed."""

    def hashed(self, size_bytes: int) -> None:
        """`size_bytes` more bytes hashed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    """A finished scan: its stored record, what it warned about, and whether the tree changed."""

    scan: ScanRecord
    warnings: tuple[WalkWarning, ...]
    changed: bool


def is_stat_clean(file: WalkedFile, cached: TreeEntry | None) -> bool:
    """Whether the stat cache proves `file` unchanged since its hash was taken."""
    return (
        cached is not None
        and cached.content_hash is not None
        and cached.size_bytes == file.size_bytes
        and cached.mtime_ns == file.mtime_ns
        and cached.inode == file.inode
        and file.mtime_ns < cached.checked_at_ns - RACY_MARGIN_NS
    )


def _hash_changed(
    root: WalkedDirectory,
    cached: Mapping[str, TreeEntry],
    *,
    now_ns: int,
    progress: ScanProgress | None,
) -> tuple[dict[str, FileHash], int, list[WalkWarning]]:
    """Content hashes of every file: reused from the cache, or read. Returns the hashes,
    the number read, and warnings for files that could not be read."""
    hashes: dict[str, FileHash] = {}
    pending: list[WalkedFile] = []
    for file in iter_files(root):
        entry = cached.get(file.path)
        if entry is not None and entry.content_hash is not None and is_stat_clean(file, entry):
            hashes[file.path] = FileHash(entry.content_hash, entry.checked_at_ns)
        else:
            pending.append(file)
    if progress is not None:
        progress.hashing(files=len(pending), size_bytes=sum(f.size_bytes for f in pending))
    on_bytes = progress.hashed if progress is not None else None
    buffer = bytearray(CHUNK_BYTES)
    warnings: list[WalkWarning] = []
    for file in pending:
        try:
            content_hash = hash_file(file.abs_path, buffer=buffer, on_bytes=on_bytes)
        except OSError as error:
            warnings.append(WalkWarning(file.path, f"cannot read ({error.strerror}); skipped"))
            continue
        hashes[file.path] = FileHash(content_hash, now_ns)
    return hashes, len(pending) - len(warnings), warnings


def _changes(
    built: BuiltTree, cached: Mapping[str, TreeEntry]
) -> tuple[list[NodeRecord], list[TreeEntry], list[str]]:
    """The records to insert, the tree entries to write and the paths to delete."""
    records: list[NodeRecord] = []
    upserts: list[TreeEntry] = []
    for record, entry in zip(built.records, built.entries, strict=True):
        previous = cached.get(entry.path)
        if previous is None or previous.node_id != entry.node_id:
            records.append(record)
        if previous != entry:
            upserts.append(entry)
    present = {entry.path for entry in built.entries}
    removed = [path for path in cached if path not in present]
    return records, upserts, removed


def scan_workspace(
    workspace: Workspace,
    *,
    progress: ScanProgress | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
) -> ScanResult:
    """Scan the whole workspace and store its tree; only files whose stat changed are read.

    Unreadable entries become warnings and the scan carries on; the records and
    the tree are written in one transaction at the end, so an interrupted scan
    leaves the previous tree in place.
    """
    started_at_ns = clock_ns()
    with Database.open(workspace.database_path) as database:
        store = NodeRecordStore(database)
        cached = store.load_tree()
        previous = store.last_scan()
        walked = walk(
            workspace.root,
            WorkspaceIgnore(),
            on_progress=progress.walked if progress is not None else None,
        )
        hashes, hashed, read_warnings = _hash_changed(
            walked.root, cached, now_ns=started_at_ns, progress=progress
        )
        built = build_tree(walked.root, hashes, cached=cached)
        records, upserts, removed = _changes(built, cached)
        warnings = (*walked.warnings, *read_warnings)
        counts = ScanCounts(
            files=built.files,
            directories=built.directories,
            bytes=built.size_bytes,
            hashed=hashed,
            reused=built.files - hashed,
            ignored=walked.ignored,
            warnings=len(warnings),
        )
        scan = store.write_scan(
            records=records,
            upserts=upserts,
            removed=removed,
            started_at_ns=started_at_ns,
            finished_at_ns=clock_ns(),
            root_node_id=built.root_id,
            counts=counts,
        )
    changed = previous is None or previous.root_node_id != built.root_id
    return ScanResult(scan=scan, warnings=warnings, changed=changed)
