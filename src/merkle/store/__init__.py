"""The database: schema, migrations and the stores over it.

SQLite is the embedded default. The SQL is kept portable so that another
backend can follow; only this package speaks SQL.
"""

from merkle.store.database import Database
from merkle.store.frames import FrameStorage, HeadIndex
from merkle.store.nodes import NodeRecordStore
from merkle.store.records import (
    Frame,
    Head,
    NodeRecord,
    NodeType,
    ScanCounts,
    ScanRecord,
    TreeEntry,
)

__all__ = [
    "Database",
    "Frame",
    "FrameStorage",
    "Head",
    "HeadIndex",
    "NodeRecord",
    "NodeRecordStore",
    "NodeType",
    "ScanCounts",
    "ScanRecord",
    "TreeEntry",
]
