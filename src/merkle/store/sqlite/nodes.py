"""The node records (content-addressed), the current tree and the scans, in SQLite."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import astuple
from typing import Any

from merkle.store.records import NodeRecord, NodeType, ScanCounts, ScanRecord, TreeEntry
from merkle.store.sqlite.connection import SqliteConnection

_TREE_COLUMNS = (
    "path, node_id, node_type, parent_path, size_bytes, mtime_ns, inode, content_hash,"
    " checked_at_ns, rules_signature, ignored_count, warning_count"
)
_TREE_SELECT = f"SELECT {_TREE_COLUMNS} FROM tree_entries"
_NODE_TYPES = {node_type.value: node_type for node_type in NodeType}
_SCAN_SELECT = (
    "SELECT scan_id, started_at_ns, finished_at_ns, root_node_id, files, directories,"
    " bytes, hashed, reused, ignored, warnings FROM scans"
)


def _tree_entry_from_row(row: tuple[Any, ...]) -> TreeEntry:
    return TreeEntry(row[0], row[1], _NODE_TYPES[row[2]], *row[3:])


def _scan_from_row(row: tuple[int, int, int, str, int, int, int, int, int, int, int]) -> ScanRecord:
    scan_id, started, finished, root, files, directories, size, hashed, reused, ignored, warned = (
        row
    )
    counts = ScanCounts(
        files=files,
        directories=directories,
        bytes=size,
        hashed=hashed,
        reused=reused,
        ignored=ignored,
        warnings=warned,
    )
    return ScanRecord(
        scan_id=scan_id,
        started_at_ns=started,
        finished_at_ns=finished,
        root_node_id=root,
        counts=counts,
    )


_TREE_UPSERT = (
    f"INSERT INTO tree_entries ({_TREE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (path) DO UPDATE SET node_id = excluded.node_id,"
    " node_type = excluded.node_type, parent_path = excluded.parent_path,"
    " size_bytes = excluded.size_bytes, mtime_ns = excluded.mtime_ns, inode = excluded.inode,"
    " content_hash = excluded.content_hash, checked_at_ns = excluded.checked_at_ns,"
    " rules_signature = excluded.rules_signature, ignored_count = excluded.ignored_count,"
    " warning_count = excluded.warning_count"
)


class SqliteNodes:
    """Reads and writes node records, the current tree and the scan log."""

    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    # -- the current tree ------------------------------------------------------

    def load_tree(self) -> dict[str, TreeEntry]:
        """Every entry of the current tree by path (the stat cache of a rescan)."""
        rows = self._db.all(_TREE_SELECT)
        return {entry.path: entry for entry in map(_tree_entry_from_row, rows)}

    def entry(self, path: str) -> TreeEntry | None:
        """The current tree's entry at `path`, if there is one."""
        row = self._db.one(_TREE_SELECT + " WHERE path = ?", (path,))
        return None if row is None else _tree_entry_from_row(row)

    def tree_paths(self) -> dict[str, str]:
        """Every path of the current tree with its node id, whether or not the record exists."""
        rows = self._db.all("SELECT path, node_id FROM tree_entries")
        return {str(path): str(node_id) for path, node_id in rows}

    # -- node records ------------------------------------------------------------

    def get(self, node_id: str) -> NodeRecord | None:
        """The node record with this id, with its children, if stored."""
        row = self._db.one(
            "SELECT node_id, path, node_type, size_bytes, content_hash FROM nodes"
            " WHERE node_id = ?",
            (node_id,),
        )
        if row is None:
            return None
        children = self._db.all(
            "SELECT name, child_id FROM node_children WHERE parent_id = ? ORDER BY name",
            (node_id,),
        )
        return self._record(row, tuple(children))

    def size_of(self, node_id: str) -> int | None:
        """The size in bytes of the stored node (a directory: of its files), if stored."""
        row = self._db.one("SELECT size_bytes FROM nodes WHERE node_id = ?", (node_id,))
        return None if row is None else int(row[0])

    def exists(self, node_id: str) -> bool:
        """Whether a node record with this id is stored."""
        return self._db.one("SELECT 1 FROM nodes WHERE node_id = ?", (node_id,)) is not None

    def find(self, prefix: str) -> list[str]:
        """The stored node ids that start with `prefix` (at most two: enough to tell)."""
        rows = self._db.all(
            "SELECT node_id FROM nodes WHERE node_id >= ? AND node_id < ? LIMIT 2",
            (prefix, prefix + "g"),
        )
        return [str(row[0]) for row in rows]

    def iter_records(self) -> Iterator[NodeRecord]:
        """Every stored node record, with its children."""
        children: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
        for parent_id, name, child_id in self._db.rows(
            "SELECT parent_id, name, child_id FROM node_children ORDER BY parent_id, name"
        ):
            children[parent_id].append((name, child_id))
        rows = self._db.rows("SELECT node_id, path, node_type, size_bytes, content_hash FROM nodes")
        for row in rows:
            yield self._record(row, tuple(children.get(row[0], ())))

    def count_records(self) -> int:
        """How many node records are stored."""
        return int(self._db.one("SELECT COUNT(*) FROM nodes")[0])

    @staticmethod
    def _record(
        row: tuple[str, str, str, int, str | None], children: tuple[tuple[str, str], ...]
    ) -> NodeRecord:
        node_id, path, node_type, size, content_hash = row
        return NodeRecord(
            node_id=node_id,
            path=path,
            node_type=NodeType(node_type),
            size_bytes=size,
            content_hash=content_hash,
            children=children,
        )

    # -- scans -----------------------------------------------------------------------

    def last_scan(self) -> ScanRecord | None:
        """The newest finished scan, if any."""
        row = self._db.one(_SCAN_SELECT + " ORDER BY scan_id DESC LIMIT 1")
        return None if row is None else _scan_from_row(row)

    def write_scan(
        self,
        *,
        records: Iterable[NodeRecord],
        upserts: Sequence[TreeEntry],
        removed: Sequence[str],
        started_at_ns: int,
        finished_at_ns: int,
        root_node_id: str,
        counts: ScanCounts,
        imports: Mapping[str, Sequence[str]] | None = None,
    ) -> ScanRecord:
        """Store a scan in one transaction: new records, the tree's changes and the scan row.

        Records already stored are left as they are (they are content-addressed).
        """
        with self._db.transaction():
            for record in records:
                self._insert_record(record)
            self._db.executemany(
                "INSERT INTO file_imports (content_hash, refs) VALUES (?, ?)"
                " ON CONFLICT (content_hash) DO NOTHING",
                ((digest, json.dumps(list(refs))) for digest, refs in (imports or {}).items()),
            )
            self._db.executemany("DELETE FROM tree_entries WHERE path = ?", ((p,) for p in removed))
            self._db.executemany(
                _TREE_UPSERT,
                ((*entry[:2], entry.node_type.value, *entry[3:]) for entry in upserts),
            )
            (row,) = self._db.all(
                "INSERT INTO scans (started_at_ns, finished_at_ns, root_node_id, files,"
                " directories, bytes, hashed, reused, ignored, warnings)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING scan_id",
                (started_at_ns, finished_at_ns, root_node_id, *astuple(counts)),
            )
        return ScanRecord(
            scan_id=int(row[0]),
            started_at_ns=started_at_ns,
            finished_at_ns=finished_at_ns,
            root_node_id=root_node_id,
            counts=counts,
        )

    def import_hashes(self) -> set[str]:
        """The content hashes whose imports are stored."""
        return {str(row[0]) for row in self._db.rows("SELECT content_hash FROM file_imports")}

    def tree_imports(self) -> dict[str, tuple[str, ...]]:
        """What each file of the current tree imports, as its text spells it, by path."""
        rows = self._db.rows(
            "SELECT t.path, i.refs FROM tree_entries t"
            " JOIN file_imports i ON i.content_hash = t.content_hash"
        )
        return {str(path): tuple(json.loads(refs)) for path, refs in rows}

    def _insert_record(self, record: NodeRecord) -> None:
        cursor = self._db.execute(
            "INSERT INTO nodes (node_id, path, node_type, size_bytes, content_hash)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id) DO NOTHING",
            (
                record.node_id,
                record.path,
                record.node_type.value,
                record.size_bytes,
                record.content_hash,
            ),
        )
        if cursor.rowcount and record.children:
            self._db.executemany(
                "INSERT INTO node_children (parent_id, name, child_id) VALUES (?, ?, ?)",
                ((record.node_id, name, child_id) for name, child_id in record.children),
            )
