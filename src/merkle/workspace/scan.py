"""`merkle scan`: walk, hash what changed, derive the ids, store the tree."""

from __future__ import annotations

import dataclasses
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from merkle.metadata.redaction import redact
from merkle.store import NodeType, ScanCounts, ScanRecord, StorageBackend, TreeEntry
from merkle.telemetry import EventSink
from merkle.tree.builder import FileHash, build_tree
from merkle.tree.hashing import CHUNK_BYTES, hash_file_head
from merkle.tree.imports import EXTENSIONS, HEAD_BYTES, extension_of, references
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


@dataclass(slots=True)
class _Hashed:
    """What reading the changed files gave: their hashes, the imports of new
    content by content hash, how many were read, and what could not be."""

    hashes: dict[str, FileHash]
    imports: dict[str, tuple[str, ...]]
    count: int
    warnings: list[WalkWarning]


def _hash_changed(
    root: WalkedDirectory,
    cached: Mapping[str, TreeEntry],
    *,
    known_imports: set[str],
    now_ns: int,
    progress: ScanProgress | None,
) -> _Hashed:
    """Content hashes of every file, reused from the cache or read, and the imports of
    every file whose content's imports are not stored yet."""
    hashes: dict[str, FileHash] = {}
    imports: dict[str, tuple[str, ...]] = {}
    pending: list[WalkedFile] = []
    for file in iter_files(root):
        entry = cached.get(file.path)
        if entry is not None and entry.content_hash is not None and is_stat_clean(file, entry):
            hashes[file.path] = FileHash(entry.content_hash, entry.checked_at_ns)
            # Content scanned before imports were read is read for them once.
            if _has_imports(file.path) and entry.content_hash not in known_imports:
                _read_imports(file, entry.content_hash, imports)
        else:
            pending.append(file)
    if progress is not None:
        progress.hashing(files=len(pending), size_bytes=sum(f.size_bytes for f in pending))
    on_bytes = progress.hashed if progress is not None else None
    buffer = bytearray(CHUNK_BYTES)
    warnings: list[WalkWarning] = []
    for file in pending:
        head_bytes = HEAD_BYTES if _has_imports(file.path) else 0
        try:
            content_hash, head = hash_file_head(
                file.abs_path, head_bytes=head_bytes, buffer=buffer, on_bytes=on_bytes
            )
        except OSError as error:
            warnings.append(WalkWarning(file.path, f"cannot read ({error.strerror}); skipped"))
            continue
        hashes[file.path] = FileHash(content_hash, now_ns)
        if head_bytes and content_hash not in known_imports:
            imports[content_hash] = _imports_of(file.path, head)
    return _Hashed(hashes, imports, len(pending) - len(warnings), warnings)


def _has_imports(path: str) -> bool:
    return extension_of(path) in EXTENSIONS


def _read_imports(file: WalkedFile, content_hash: str, imports: dict[str, tuple[str, ...]]) -> None:
    try:
        found, head = hash_file_head(file.abs_path, head_bytes=HEAD_BYTES)
    except OSError:
        return  # read again by the next scan; the import map lacks it until then
    if found == content_hash:
        imports[content_hash] = _imports_of(file.path, head)


def _imports_of(path: str, head: bytes) -> tuple[str, ...]:
    """The imports the text `head` spells, none of them holding a secret (they are
    stored, and become paths in prompts)."""
    if b"\x00" in head[:8192]:
        return ()
    found = references(path, head.decode("utf-8", "replace"))
    if not found or extension_of(path) in (".py", ".pyi", ".pyw"):
        return found  # Python's are identifiers, which hold no secret value
    # Every key or token the detectors know is a long unbroken run: a path
    # without one is not worth loading them for.
    return tuple(
        ref for ref in found if not _TOKEN_RUN.search(ref) or not redact(ref, path=path)[1]
    )


_TOKEN_RUN = re.compile(r"[A-Za-z0-9+/=_-]{16,}")


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
    read = _hash_changed(
        walked.root,
        cached,
        known_imports=nodes.import_hashes(),
        now_ns=started_at_ns,
        progress=progress,
    )
    hashed = read.count
    built = build_tree(walked.root, read.hashes, cached=cached)
    warnings = (*walked.warnings, *read.warnings)
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
        imports=read.imports,
    )
    changed = previous is None or previous.root_node_id != built.root_id
    if sink is not None:
        sink.emit(
            "scan_completed",
            {**dataclasses.asdict(counts), "root_node_id": built.root_id, "changed": changed,
             "duration_ms": (scan.finished_at_ns - started_at_ns) // 1_000_000},
        )  # fmt: skip
    return ScanResult(scan=scan, warnings=warnings, changed=changed)
