"""The store: every persistent value of merkle, behind one backend protocol.

`open_store(url)` opens a `StorageBackend`; its repositories (nodes and
trees, frames and heads, the queue, sessions and events) speak the values
of `merkle.store.records`. SQLite (`merkle.store.sqlite`) is the embedded
default. Only this package speaks SQL or imports a database driver.
"""

from merkle.store.backend import (
    CredentialRepository,
    EgressRepository,
    EventRepository,
    FrameRepository,
    NodeRepository,
    QueueRepository,
    StorageBackend,
)
from merkle.store.opening import open_store, sqlite_url
from merkle.store.records import (
    DETACHED,
    AgentLoad,
    EgressEntry,
    EgressOutcome,
    EgressRow,
    Enqueued,
    EventRow,
    Frame,
    FrameKey,
    Head,
    NewRequest,
    NodeRecord,
    NodeType,
    ProviderCheck,
    QueueCount,
    RequestState,
    ScanCounts,
    ScanRecord,
    SessionRow,
    StoredRequest,
    TreeEntry,
)

__all__ = [
    "DETACHED",
    "AgentLoad",
    "CredentialRepository",
    "EgressEntry",
    "EgressOutcome",
    "EgressRepository",
    "EgressRow",
    "Enqueued",
    "EventRepository",
    "EventRow",
    "Frame",
    "FrameKey",
    "FrameRepository",
    "Head",
    "NewRequest",
    "NodeRecord",
    "NodeRepository",
    "NodeType",
    "ProviderCheck",
    "QueueCount",
    "QueueRepository",
    "RequestState",
    "ScanCounts",
    "ScanRecord",
    "SessionRow",
    "StorageBackend",
    "StoredRequest",
    "TreeEntry",
    "open_store",
    "sqlite_url",
]
