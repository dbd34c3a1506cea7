"""`merkle scan`: walk, hash what changed, derive the ids, store the tree."""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from merkle.store import NodeType, ScanCounts, ScanRecord, StorageBackend, TreeEntry
from merkle.telemetry import EventSink
from merkle.tree.builder import FileHash, build_tree
from merkle.tree.hashing import CHUNK_BYTES, hash_file
from merkle.tree.walker import (
    RACY_MARGIN_NS,
    CachedListing,
    WalkedDirectory,
    WalkedFile,
    WalkWarning,
    iter_files,
    walk,
)
from merkle.workspace.ignore import WorkspaceIgnore
from merkle.workspace.layout import Workspace


class ScanProgress(Protocol):
    """Told how a scan advances, for a progress display."""

    def walked(self, files: int) -> None:
        """`files` files seen so far by the walk."""

    def hashing(self, *, files: int, size_bytes: int) -> None:
        """The walk is done; `files` files of `size_bytes` in all are to be hashed."""

    def hashed(self, size_bytes: int) -> None:
        """`size_bytes` more bytes hashed."""


class _ReportedProgress:
    """Passes progress on to a display and reports it as `scan_progress` events,
    at most every `interval_s` (a walk reports every few files)."""

    def __init__(
        self, sink: EventSink, inner: ScanProgress | None, *, interval_s: float = 0.25
    ) -> None:
        self._sink = sink
        self._inner = inner
        self._interval_s = interval_s
        self._last = 0.0
        self._files = 0
        self._to_hash = 0
        self._hashed_bytes = 0

    def walked(self, files: int) -> None:
        self._files = files
        if self._inner is not None:
            self._inner.walked(files)
        self._report()

    def hashing(self, *, files: int, size_bytes: int) -> None:
        self._to_hash = files
        if self._inner is not None:
            self._inner.hashing(files=files, size_bytes=size_bytes)
        self._report(force=True)

    def hashed(self, size_bytes: int) -> None:
        self._hashed_bytes += size_bytes
        if self._inner is not None:
            self._inner.hashed(size_bytes)
        self._report()

    def _report(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self._interval_s:
            self._last = now
            self._sink.emit(
                "scan_progress",
                {"files": self._files, "to_hash": self._to_hash,
                 "hashed_bytes": self._hashed_bytes},
            )  # fmt: skip


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


def listings(tree: Mapping[str, TreeEntry]) -> dict[str, CachedListing]:
    """The previous scan's directory listings, for the walk to skip unchanged directories."""
    files: defaultdict[str, list[str]] = defaultdict(list)
    directories: defaultdict[str, list[str]] = defaultdict(list)
    for entry in tree.values():
        if entry.parent_path is not None:
            children = files if entry.node_type is NodeType.FILE else directories
            children[entry.parent_path].append(entry.path.rpartition("/")[2])
    return {
        path: CachedListing(
            mtime_ns=entry.mtime_ns,
            inode=entry.inode,
            checked_at_ns=entry.checked_at_ns,
            rules_signature=entry.rules_signature,
            files=tuple(sorted(files[path])),
            directories=tuple(sorted(directories[path])),
            ignored=entry.ignored_count,
            warnings=entry.warning_count,
        )
        for path, entry in tree.items()
        if entry.node_type is NodeType.DIRECTORY
    }


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


def scan_workspace(
    workspace: Workspace,
    store: StorageBackend,
    *,
    progress: ScanProgress | None = None,
    sink: EventSink | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
) -> ScanResult:
    """Scan the whole workspace and store its tree; only files whose stat changed are read.

    Unreadable entries become warnings and the scan carries on; the records and
    the tree are written in one transaction at the end, so an interrupted scan
    leaves the previous tree in place.
    """
    started_at_ns = clock_ns()
    if sink is not None:
        sink.emit("scan_started", {"root": str(workspace.root)})
        progress = _ReportedProgress(sink, progress)
    nodes = store.nodes
    cached = nodes.load_tree()
    previous = nodes.last_scan()
    walked = walk(
        workspace.root,
        WorkspaceIgnore(),
        cache=listings(cached),
        now_ns=started_at_ns,
        on_progress=progress.walked if progress is not None else None,
    )
    hashes, hashed, read_warnings = _hash_changed(
        walked.root, cached, now_ns=started_at_ns, progress=progress
    )
    built = build_tree(walked.root, hashes, cached=cached)
    warnings = (*walked.warnings, *read_warnings)
    counts = ScanCounts(
        files=built.files,
        directories=walked.directory_count,
        bytes=built.size_bytes,
        hashed=hashed,
        reused=built.files - hashed,
        ignored=walked.ignored,
        warnings=len(warnings),
    )
    scan = nodes.write_scan(
        records=built.records,
        upserts=built.entries,
        removed=[path for path in cached if path not in built.present],
        started_at_ns=started_at_ns,
        finished_at_ns=clock_ns(),
        root_node_id=built.root_id,
        counts=counts,
    )
    changed = previous is None or previous.root_node_id != built.root_id
    if sink is not None:
        sink.emit(
            "scan_completed",
            {**dataclasses.asdict(counts), "root_node_id": built.root_id, "changed": changed,
             "duration_ms": (scan.finished_at_ns - started_at_ns) // 1_000_000},
        )  # fmt: skip
    return ScanResult(scan=scan, warnings=warnings, changed=changed)
