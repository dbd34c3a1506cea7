"""`merkle status`: the last scan, and whether the disk has changed since (stat only)."""

from __future__ import annotations

from dataclasses import dataclass

from merkle.store import NodeType, ScanRecord, StorageBackend
from merkle.tree.walker import iter_directories, iter_files, walk
from merkle.workspace.ignore import WorkspaceIgnore
from merkle.workspace.layout import Workspace
from merkle.workspace.scan import listings


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeChanges:
    """Paths that differ between the disk and the stored tree, by stat alone."""

    added: tuple[str, ...]
    modified: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """Whether anything differs."""
        return bool(self.added or self.modified or self.removed)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """The workspace at a glance."""

    workspace: Workspace
    last_scan: ScanRecord | None
    node_records: int
    frames: int
    heads: int
    changes: TreeChanges | None


def workspace_status(workspace: Workspace, store: StorageBackend) -> StatusReport:
    """The last scan and, when there is one, what changed on disk since (no hashing)."""
    last_scan = store.nodes.last_scan()
    records = store.nodes.count_records()
    frames = store.frames.count()
    heads = store.frames.head_count()
    cached = store.nodes.load_tree() if last_scan is not None else {}
    counts = {"node_records": records, "frames": frames, "heads": heads}
    if last_scan is None:
        return StatusReport(workspace=workspace, last_scan=None, changes=None, **counts)
    walked = walk(workspace.root, WorkspaceIgnore(), cache=listings(cached))
    added: list[str] = []
    modified: list[str] = []
    seen: set[str] = set()
    for directory in iter_directories(walked.root):
        seen.add(directory.path)
        if directory.path not in cached:
            added.append(directory.path)
    for file in iter_files(walked.root):
        seen.add(file.path)
        entry = cached.get(file.path)
        if entry is None or entry.node_type is not NodeType.FILE:
            added.append(file.path)
        elif (entry.size_bytes, entry.mtime_ns, entry.inode) != (
            file.size_bytes,
            file.mtime_ns,
            file.inode,
        ):
            modified.append(file.path)
    removed = [path for path in cached if path not in seen]
    changes = TreeChanges(
        added=tuple(sorted(added)), modified=tuple(sorted(modified)), removed=tuple(sorted(removed))
    )
    return StatusReport(workspace=workspace, last_scan=last_scan, changes=changes, **counts)
