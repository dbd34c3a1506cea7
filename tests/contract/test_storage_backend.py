"""The contract of a storage backend, checked through the `StorageBackend` protocol only.

Every test runs once per entry of `BACKENDS` and speaks only the protocol of
`merkle.store.backend`: the repositories `nodes`, `frames`, `queue` and
`events`, `transaction()`, `integrity_problems()` and `change_marker()`, with
the values of `merkle.store`. No test speaks SQL or imports a driver, so the
same tests hold any backend to the same contract.

Adding a backend (PostgreSQL, say) is one entry appended to `BACKENDS`. An
entry is a `BackendFactory`: a context-manager function that takes the test's
`tmp_path`, provisions one fresh, empty store, yields a `Connect` (each call
opens a new connection to that store), and disposes of the store on exit::

    @contextmanager
    def postgres_store(tmp_path: Path) -> Iterator[Connect]:
        url = create_scratch_database()  # a new, empty database for this test
        try:
            yield partial(open_store, url)
        finally:
            drop_database(url)

    BACKENDS = [sqlite_store, postgres_store]

The `store` fixture is the first connection; `connect` opens more (another
process, as far as the store can tell). Time is a fake clock: every `now_ns`
is a plain integer and no test sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pytest

from merkle.errors import QueueFull, UsageError
from merkle.store import (
    AgentLoad,
    EgressEntry,
    EgressOutcome,
    Enqueued,
    EventRow,
    Frame,
    FrameKey,
    Head,
    NewRequest,
    NodeRecord,
    NodeType,
    QueueCount,
    RequestState,
    ScanCounts,
    ScanRecord,
    SessionRow,
    StorageBackend,
    StoredRequest,
    TreeEntry,
    open_store,
)
from merkle.tree.hashing import directory_node_id, file_node_id, frame_id_of, hash_bytes

Connect = Callable[[], StorageBackend]
BackendFactory = Callable[[Path], AbstractContextManager[Connect]]


@contextmanager
def sqlite_store(tmp_path: Path) -> Iterator[Connect]:
    """A fresh SQLite database file in `tmp_path` (removed with it)."""
    yield partial(open_store, tmp_path / "merkle.db", create=True)


# Every backend the contract is checked against: append a factory to add one.
BACKENDS: list[BackendFactory] = [sqlite_store]

_CONNECT = pytest.StashKey[Connect]()


@pytest.fixture(params=BACKENDS, ids=lambda factory: factory.__name__)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageBackend]:
    """A connection to a fresh, empty store of each backend."""
    factory: BackendFactory = request.param
    with factory(tmp_path) as connect:
        request.node.stash[_CONNECT] = connect
        with closing(connect()) as backend:
            yield backend


@pytest.fixture
def connect(store: StorageBackend, request: pytest.FixtureRequest) -> Connect:
    """Opens another connection to the `store` under test (close it after use)."""
    return request.node.stash[_CONNECT]


# -- values ------------------------------------------------------------------------------

T0 = 1_700_000_000_000_000_000
LEASE = 30_000_000_000
AGENT = "writer"
OTHER_AGENT = "reviewer"
FRAME_TYPE = "context"
OWNER_A = "host-a:101:aaaa0001"
OWNER_B = "host-b:202:bbbb0002"
OWNER_C = "host-c:303:cccc0003"
ROOT = "."


class Boom(Exception):
    """Raised inside a transaction to make it fail."""


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _parent(path: str) -> str | None:
    if path == ROOT:
        return None
    return path.rpartition("/")[0] or ROOT


def file_record(path: str, content: str) -> NodeRecord:
    data = content.encode("utf-8")
    content_hash = hash_bytes(data)
    return NodeRecord(
        node_id=file_node_id(path, content_hash),
        path=path,
        node_type=NodeType.FILE,
        size_bytes=len(data),
        content_hash=content_hash,
    )


def directory_record(path: str, *children: NodeRecord) -> NodeRecord:
    pairs = tuple(sorted((_name(child.path), child.node_id) for child in children))
    return NodeRecord(
        node_id=directory_node_id(path, pairs),
        path=path,
        node_type=NodeType.DIRECTORY,
        size_bytes=sum(child.size_bytes for child in children),
        children=pairs,
    )


def entry_of(record: NodeRecord, *, mtime_ns: int = T0, inode: int = 7) -> TreeEntry:
    directory = record.node_type is NodeType.DIRECTORY
    return TreeEntry(
        path=record.path,
        node_id=record.node_id,
        node_type=record.node_type,
        parent_path=_parent(record.path),
        size_bytes=record.size_bytes,
        mtime_ns=mtime_ns,
        inode=inode,
        content_hash=record.content_hash,
        checked_at_ns=mtime_ns + 1,
        rules_signature="rules-1" if directory else "",
        ignored_count=2 if directory else 0,
        warning_count=1 if directory else 0,
    )


@dataclass(frozen=True)
class Tree:
    """One version of a small workspace: its records (root last) and tree entries."""

    records: tuple[NodeRecord, ...]

    @property
    def root(self) -> NodeRecord:
        return self.records[-1]

    @property
    def entries(self) -> list[TreeEntry]:
        return [entry_of(record, inode=index) for index, record in enumerate(self.records)]

    def record(self, path: str) -> NodeRecord:
        (found,) = (record for record in self.records if record.path == path)
        return found


def sample_tree(a_content: str = "a = 1\n") -> Tree:
    a = file_record("src/a.py", a_content)
    b = file_record("src/b.py", "b = 2\n")
    c = file_record("src/c.py", "c = 3\n")
    src = directory_record("src", a, b, c)
    readme = file_record("README.md", "# Sample\n")
    return Tree((a, b, c, src, readme, directory_record(ROOT, readme, src)))


COUNTS = ScanCounts(files=4, directories=2, bytes=27, hashed=4, reused=0, ignored=2, warnings=1)


def write_scan(
    store: StorageBackend,
    records: Sequence[NodeRecord],
    *,
    upserts: Sequence[TreeEntry],
    removed: Sequence[str] = (),
    root_node_id: str,
    started_at_ns: int = T0,
    counts: ScanCounts = COUNTS,
) -> ScanRecord:
    return store.nodes.write_scan(
        records=records,
        upserts=upserts,
        removed=removed,
        started_at_ns=started_at_ns,
        finished_at_ns=started_at_ns + 5_000,
        root_node_id=root_node_id,
        counts=counts,
    )


def write_tree(store: StorageBackend, tree: Tree, *, started_at_ns: int = T0) -> ScanRecord:
    return write_scan(
        store,
        tree.records,
        upserts=tree.entries,
        root_node_id=tree.root.node_id,
        started_at_ns=started_at_ns,
    )


def make_frame(
    node_id: str,
    content: str,
    created_at_ns: int,
    *,
    agent_id: str = AGENT,
    frame_type: str = FRAME_TYPE,
    frame_id: str | None = None,
) -> Frame:
    metadata_json = json.dumps(
        {"agent_id": agent_id, "frame_type": frame_type}, sort_keys=True, separators=(",", ":")
    )
    if frame_id is None:
        frame_id = frame_id_of(
            node_id=node_id,
            agent_id=agent_id,
            frame_type=frame_type,
            content=content,
            metadata_json=metadata_json,
        )
    return Frame(
        frame_id=frame_id,
        node_id=node_id,
        agent_id=agent_id,
        frame_type=frame_type,
        content=content,
        metadata_json=metadata_json,
        created_at_ns=created_at_ns,
    )


def key_of(node_id: str, agent_id: str = AGENT, frame_type: str = FRAME_TYPE) -> FrameKey:
    return FrameKey(node_id, agent_id, frame_type)


def new_request(
    name: str,
    *,
    agent_id: str = AGENT,
    priority: int = 0,
    plan_id: str | None = None,
    force: bool = False,
    superseded_frame_id: str | None = None,
) -> NewRequest:
    # Any node id: the queue needs no stored node record.
    return NewRequest(
        key=FrameKey(hash_bytes(name.encode("utf-8")), agent_id, FRAME_TYPE),
        path=name,
        node_type=NodeType.FILE,
        provider_name="local",
        priority=priority,
        plan_id=plan_id,
        force=force,
        superseded_frame_id=superseded_frame_id,
    )


def enqueue(
    store: StorageBackend,
    *requests: NewRequest,
    owner: str = OWNER_A,
    now_ns: int = T0,
    max_live: int = 1_000,
    wait: bool = True,
) -> list[Enqueued]:
    return store.queue.enqueue(
        list(requests), owner=owner, now_ns=now_ns, max_live=max_live, wait=wait
    )


def enqueue_one(store: StorageBackend, request: NewRequest, **options: object) -> StoredRequest:
    (result,) = enqueue(store, request, **options)  # type: ignore[arg-type]
    return result.request


def claim(
    store: StorageBackend,
    owner: str,
    now_ns: int,
    *,
    lease_ns: int = LEASE,
    excluded_agents: Sequence[str] = (),
) -> StoredRequest | None:
    return store.queue.claim(
        owner=owner, now_ns=now_ns, lease_ns=lease_ns, excluded_agents=excluded_agents
    )


def claimed_ids(store: StorageBackend, owner: str, now_ns: int) -> list[int]:
    """Claim until nothing is runnable; the ids in claim order."""
    ids = []
    while (request := claim(store, owner, now_ns)) is not None:
        ids.append(request.request_id)
        assert len(ids) < 100, "the same requests are claimed over and over"
    return ids


def finish(
    store: StorageBackend,
    request_id: int,
    owner: str,
    now_ns: int,
    state: RequestState = RequestState.DONE,
    **outcome: str,
) -> StoredRequest | None:
    return store.queue.finish(request_id, owner=owner, now_ns=now_ns, state=state, **outcome)


def event(session_id: str, seq: int, kind: str = "progress") -> EventRow:
    return EventRow(
        session_id=session_id,
        seq=seq,
        ts=f"2024-05-01T12:00:{seq:02d}.000000Z",
        type=kind,
        data=json.dumps({"seq": seq}),
    )


def session(store: StorageBackend, session_id: str) -> SessionRow:
    row = store.events.session(session_id)
    assert row is not None, f"no session {session_id}"
    return row


def create_session(store: StorageBackend, session_id: str, started_at_ns: int = T0) -> bool:
    return store.events.create_session(
        session_id, command="scan", owner=OWNER_A, started_at_ns=started_at_ns
    )


# -- a fresh store -------------------------------------------------------------------------


def test_a_fresh_store_is_empty_and_sound(store: StorageBackend) -> None:
    assert store.nodes.last_scan() is None
    assert store.nodes.load_tree() == {}
    assert store.nodes.tree_paths() == {}
    assert store.nodes.count_records() == 0
    assert list(store.nodes.iter_records()) == []
    assert store.frames.count() == 0
    assert store.frames.head_count() == 0
    assert list(store.frames.iter_frames()) == []
    assert list(store.frames.iter_heads()) == []
    assert store.queue.live_count() == 0
    assert store.queue.counts() == []
    assert store.queue.next_due_ns(T0) is None
    assert store.events.sessions() == []
    assert store.integrity_problems() == []


# -- nodes and trees -------------------------------------------------------------------------


def test_write_scan_stores_records_with_their_children_in_name_order(
    store: StorageBackend,
) -> None:
    tree = sample_tree()
    src = tree.record("src")
    names = [name for name, _ in src.children]
    assert names == ["a.py", "b.py", "c.py"]
    # The names sort otherwise than the ids: a store must keep the name order.
    assert list(src.child_ids) != sorted(src.child_ids)

    write_tree(store, tree)

    for record in tree.records:
        assert store.nodes.get(record.node_id) == record
    stored_src = store.nodes.get(src.node_id)
    assert stored_src is not None
    assert stored_src.child_ids == tuple(tree.record(f"src/{n}").node_id for n in names)
    assert store.nodes.get(tree.record("src/a.py").node_id).children == ()  # type: ignore[union-attr]


def test_write_scan_stores_the_tree_entries(store: StorageBackend) -> None:
    tree = sample_tree()

    write_tree(store, tree)

    expected = {entry.path: entry for entry in tree.entries}
    assert store.nodes.load_tree() == expected
    for path, entry in expected.items():
        assert store.nodes.entry(path) == entry
    assert store.nodes.entry("missing.txt") is None
    assert store.nodes.tree_paths() == {path: entry.node_id for path, entry in expected.items()}


def test_write_scan_returns_the_scan_row_and_last_scan_is_the_newest(
    store: StorageBackend,
) -> None:
    tree = sample_tree()
    other_counts = ScanCounts(files=1, directories=1, bytes=3, hashed=0, reused=1)

    first = write_tree(store, tree)
    assert first == ScanRecord(
        scan_id=first.scan_id,
        started_at_ns=T0,
        finished_at_ns=T0 + 5_000,
        root_node_id=tree.root.node_id,
        counts=COUNTS,
    )
    assert store.nodes.last_scan() == first

    second = write_scan(
        store, [], upserts=[], root_node_id="f" * 64, started_at_ns=T0 + 1, counts=other_counts
    )
    third = write_scan(store, [], upserts=[], root_node_id="e" * 64, started_at_ns=T0 + 2)

    assert first.scan_id < second.scan_id < third.scan_id
    assert second.counts == other_counts
    assert store.nodes.last_scan() == third


def test_a_rescan_removes_and_upserts_exactly_the_paths_it_names(store: StorageBackend) -> None:
    old = sample_tree()
    write_tree(store, old)
    new = sample_tree(a_content="a = 100\n")
    added = file_record("src/d.py", "d = 4\n")
    changed = [
        entry_of(new.record("src/a.py"), mtime_ns=T0 + 10),
        entry_of(new.record("src"), mtime_ns=T0 + 10),
        entry_of(new.root, mtime_ns=T0 + 10),
        entry_of(added, mtime_ns=T0 + 10),
    ]

    write_scan(
        store,
        [new.record("src/a.py"), added, new.record("src"), new.root],
        upserts=changed,
        removed=["README.md"],
        root_node_id=new.root.node_id,
        started_at_ns=T0 + 10,
    )

    unchanged = {
        entry.path: entry for entry in old.entries if entry.path in ("src/b.py", "src/c.py")
    }
    expected = unchanged | {entry.path: entry for entry in changed}
    assert store.nodes.load_tree() == expected
    assert store.nodes.entry("README.md") is None
    assert store.nodes.tree_paths() == {path: entry.node_id for path, entry in expected.items()}
    # Records are history: the old ones stay next to the new ones.
    assert store.nodes.exists(old.record("src/a.py").node_id)
    assert store.nodes.exists(old.record("README.md").node_id)
    assert store.nodes.count_records() == len(old.records) + 4


def test_records_already_stored_are_left_as_they_are(store: StorageBackend) -> None:
    tree = sample_tree()
    write_tree(store, tree)
    b = tree.record("src/b.py")
    src = tree.record("src")
    # Same ids, other fields: a content-addressed store keeps what it has.
    impostors = [
        replace(b, size_bytes=999, content_hash=hash_bytes(b"other")),
        replace(src, size_bytes=1, children=(("zzz.py", b.node_id),)),
    ]

    write_scan(store, impostors, upserts=[], root_node_id=tree.root.node_id, started_at_ns=T0 + 1)

    assert store.nodes.get(b.node_id) == b
    assert store.nodes.get(src.node_id) == src
    assert store.nodes.size_of(b.node_id) == b.size_bytes
    assert store.nodes.count_records() == len(tree.records)
    assert sorted(record.node_id for record in store.nodes.iter_records()) == sorted(
        record.node_id for record in tree.records
    )


def test_get_exists_and_size_of_answer_for_stored_and_unknown_nodes(
    store: StorageBackend,
) -> None:
    tree = sample_tree()
    write_tree(store, tree)
    unknown = "0" * 64

    src = tree.record("src")
    assert store.nodes.exists(src.node_id) is True
    assert store.nodes.size_of(src.node_id) == src.size_bytes == 18  # a directory: its files
    assert store.nodes.size_of(tree.record("README.md").node_id) == len("# Sample\n")
    assert store.nodes.exists(unknown) is False
    assert store.nodes.get(unknown) is None
    assert store.nodes.size_of(unknown) is None


def test_find_returns_the_ids_with_the_prefix_at_most_two(store: StorageBackend) -> None:
    def record(node_id: str) -> NodeRecord:
        return NodeRecord(
            node_id=node_id,
            path=f"f-{node_id[:4]}",
            node_type=NodeType.FILE,
            size_bytes=1,
            content_hash="00" * 32,
        )

    abc0, abc1, abd0, ff00 = ("abc0" + "0" * 60, "abc1" + "0" * 60, "abd0" + "0" * 60, "f" * 64)
    write_scan(store, [record(i) for i in (abc0, abc1, abd0, ff00)], upserts=[], root_node_id=ff00)

    assert sorted(store.nodes.find("abc")) == [abc0, abc1]
    by_ab = store.nodes.find("ab")
    assert len(by_ab) == 2
    assert set(by_ab) <= {abc0, abc1, abd0}
    assert store.nodes.find("abd") == [abd0]
    assert store.nodes.find(abc1) == [abc1]
    assert store.nodes.find("ab0") == []
    assert store.nodes.find("0") == []


def test_iter_records_and_count_records_cover_every_record_with_children(
    store: StorageBackend,
) -> None:
    first = sample_tree()
    second = sample_tree(a_content="a = 2\n")
    write_tree(store, first)
    write_tree(store, second, started_at_ns=T0 + 1)

    expected = {record.node_id: record for record in (*first.records, *second.records)}
    stored = list(store.nodes.iter_records())

    assert len(stored) == len(expected) == store.nodes.count_records() == 9
    assert {record.node_id: record for record in stored} == expected


def test_tree_paths_lists_entries_whose_record_is_not_stored(store: StorageBackend) -> None:
    tree = sample_tree()
    write_scan(store, [], upserts=tree.entries, root_node_id=tree.root.node_id)

    assert store.nodes.tree_paths() == {record.path: record.node_id for record in tree.records}
    assert store.nodes.count_records() == 0
    assert store.nodes.entry("src/a.py") == tree.entries[0]


# -- frames and heads ------------------------------------------------------------------------


@pytest.fixture
def tree(store: StorageBackend) -> Tree:
    """The sample tree, stored: frames need their node records."""
    tree = sample_tree()
    write_tree(store, tree)
    return tree


def test_append_stores_a_frame_once_and_refuses_its_id_again(
    store: StorageBackend, tree: Tree
) -> None:
    node_id = tree.record("src/a.py").node_id
    frame = make_frame(node_id, "About a.", T0 + 100)
    # The same id again, later and otherwise: nothing of it may be written.
    again = replace(frame, created_at_ns=T0 + 900, content="Changed.")

    assert store.frames.append(frame) is True
    assert store.frames.append(again) is False

    assert store.frames.get(frame.frame_id) == frame
    assert store.frames.count() == 1
    assert list(store.frames.iter_frames()) == [frame]
    assert store.frames.head(key_of(node_id)) == Head(
        node_id=node_id,
        agent_id=AGENT,
        frame_type=FRAME_TYPE,
        frame_id=frame.frame_id,
        created_at_ns=T0 + 100,
    )


def test_the_head_follows_the_newest_frame(store: StorageBackend, tree: Tree) -> None:
    key = key_of(tree.record("src/a.py").node_id)
    first = make_frame(key.node_id, "First.", T0 + 100)
    second = make_frame(key.node_id, "Second.", T0 + 200)

    store.frames.append(first)
    assert store.frames.head_frame(key) == first
    store.frames.append(second)

    head = store.frames.head(key)
    assert head is not None
    assert head.key == key
    assert (head.frame_id, head.created_at_ns) == (second.frame_id, T0 + 200)
    assert store.frames.head_frame(key) == second
    assert store.frames.head_count() == 1


def test_an_older_frame_written_later_keeps_the_head_and_joins_history(
    store: StorageBackend, tree: Tree
) -> None:
    key = key_of(tree.record("src/a.py").node_id)
    newer = make_frame(key.node_id, "Dated later, written first.", T0 + 200)
    older = make_frame(key.node_id, "Dated earlier, written last.", T0 + 100)

    store.frames.append(newer)
    assert store.frames.append(older) is True

    assert store.frames.head_frame(key) == newer
    assert store.frames.head(key).created_at_ns == T0 + 200  # type: ignore[union-attr]
    assert store.frames.get(older.frame_id) == older
    assert store.frames.history("src/a.py", AGENT, FRAME_TYPE) == [newer, older]


def test_a_frame_as_old_as_the_head_moves_the_head_to_it(store: StorageBackend, tree: Tree) -> None:
    key = key_of(tree.record("src/a.py").node_id)
    first = make_frame(key.node_id, "First.", T0 + 100)
    same_time = make_frame(key.node_id, "Same time, written later.", T0 + 100)

    store.frames.append(first)
    store.frames.append(same_time)

    # "unless the head is newer": a tie is not newer.
    assert store.frames.head_frame(key) == same_time


def test_history_is_newest_first_across_the_node_ids_of_a_path(
    store: StorageBackend, tree: Tree
) -> None:
    v2 = sample_tree(a_content="a = 2\n")
    write_tree(store, v2, started_at_ns=T0 + 1)
    a1 = tree.record("src/a.py").node_id
    a2 = v2.record("src/a.py").node_id
    frames = [
        make_frame(a1, "v1, first.", T0 + 100),
        make_frame(a2, "v2, first.", T0 + 400),
        make_frame(a1, "v1, second.", T0 + 300),
        make_frame(a2, "v2, second.", T0 + 200),
    ]
    noise = [
        make_frame(tree.record("src/b.py").node_id, "Another path.", T0 + 500),
        make_frame(a2, "Another agent.", T0 + 600, agent_id=OTHER_AGENT),
        make_frame(a2, "Another type.", T0 + 700, frame_type="summary"),
    ]
    for frame in (*frames, *noise):
        assert store.frames.append(frame) is True

    history = store.frames.history("src/a.py", AGENT, FRAME_TYPE)

    assert history == sorted(frames, key=lambda frame: -frame.created_at_ns)
    assert store.frames.history("src/a.py", OTHER_AGENT, FRAME_TYPE) == [noise[1]]
    assert store.frames.history("missing.txt", AGENT, FRAME_TYPE) == []


def test_history_breaks_a_timestamp_tie_by_write_order_later_first(
    store: StorageBackend, tree: Tree
) -> None:
    node_id = tree.record("src/a.py").node_id
    # Arbitrary ids, written in an order that is neither theirs nor its reverse.
    written = [
        make_frame(node_id, f"Tie {name}.", T0 + 100, frame_id=f"frame-{name}")
        for name in ("2", "3", "1")
    ]
    earlier = make_frame(node_id, "Earlier.", T0 + 50, frame_id="frame-0")
    store.frames.append(earlier)
    for frame in written:
        store.frames.append(frame)

    history = store.frames.history("src/a.py", AGENT, FRAME_TYPE)

    assert [frame.frame_id for frame in history] == ["frame-1", "frame-3", "frame-2", "frame-0"]


def test_a_key_without_frames_has_no_head(store: StorageBackend, tree: Tree) -> None:
    node_id = tree.record("src/a.py").node_id
    store.frames.append(make_frame(node_id, "About a.", T0))

    assert store.frames.head(key_of(node_id, agent_id=OTHER_AGENT)) is None
    assert store.frames.head_frame(key_of(node_id, frame_type="summary")) is None
    assert store.frames.head(key_of(tree.record("src/b.py").node_id)) is None
    assert store.frames.get("no-such-frame") is None


def test_iter_frames_iter_heads_and_counts_cover_every_key(
    store: StorageBackend, tree: Tree
) -> None:
    a = tree.record("src/a.py").node_id
    b = tree.record("src/b.py").node_id
    frames = [
        make_frame(a, "a, old.", T0 + 1),
        make_frame(a, "a, new.", T0 + 2),
        make_frame(a, "a, by another agent.", T0 + 3, agent_id=OTHER_AGENT),
        make_frame(a, "a, another type.", T0 + 4, frame_type="summary"),
        make_frame(b, "b.", T0 + 5),
    ]
    for frame in frames:
        store.frames.append(frame)

    assert store.frames.count() == 5
    assert store.frames.head_count() == 4
    assert sorted(store.frames.iter_frames(), key=lambda f: f.created_at_ns) == frames
    heads = {head.key: (head.frame_id, head.created_at_ns) for head in store.frames.iter_heads()}
    assert heads == {frame.key: (frame.frame_id, frame.created_at_ns) for frame in frames[1:]}


def test_a_part_summary_is_kept_by_its_digest_and_the_first_one_wins(
    store: StorageBackend, connect: Connect
) -> None:
    assert store.frames.part_summary("d1") is None

    store.frames.put_part_summary("d1", "The first part.", now_ns=T0)
    store.frames.put_part_summary("d1", "Another answer.", now_ns=T0 + 1)
    store.frames.put_part_summary("d2", "The second part.", now_ns=T0)

    with closing(connect()) as other:
        assert other.frames.part_summary("d1") == "The first part."
        assert other.frames.part_summary("d2") == "The second part."
    assert store.frames.count() == 0  # a part's summary is not a frame


def egress_entry(path: str, *, sent_at_ns: int, provider: str = "remote") -> EgressEntry:
    return EgressEntry(
        sent_at_ns=sent_at_ns,
        workspace="/ws",
        path=path,
        node_id="n" * 64,
        agent_id=AGENT,
        provider_name=provider,
        host="api.example.com",
        model="m-1",
        bytes_sent=1_234,
        tokens_estimate=300,
        prompt_digest="d" * 64,
        redaction_rules=("Stripe key", "Stripe key"),
        attempt=1,
    )


def test_the_egress_ledger_keeps_each_request_then_its_outcome_and_filters_them(
    store: StorageBackend, connect: Connect
) -> None:
    first = store.egress.record(egress_entry("src/a.py", sent_at_ns=T0))
    second = store.egress.record(egress_entry("src/sub/b.py", sent_at_ns=T0 + 10))
    store.egress.record(egress_entry("srcx/c.py", sent_at_ns=T0 + 20, provider="other"))
    outcome = EgressOutcome(
        status="ok", input_tokens=290, output_tokens=40, latency_ms=812, finished_at_ns=T0 + 5
    )
    store.egress.finish(first, outcome)

    with closing(connect()) as other:
        rows = other.egress.rows()
        assert [row.egress_id for row in rows][:2] == [first, second]
        assert rows[0].entry == egress_entry("src/a.py", sent_at_ns=T0)
        assert (rows[0].outcome, rows[1].outcome) == (outcome, None)
        assert [r.entry.path for r in other.egress.rows(path="src")] == ["src/a.py", "src/sub/b.py"]
        assert [r.entry.path for r in other.egress.rows(since_ns=T0 + 10)] == [
            "src/sub/b.py",
            "srcx/c.py",
        ]
        assert [r.entry.path for r in other.egress.rows(provider="other")] == ["srcx/c.py"]
    assert store.egress.prune(before_ns=T0 + 10) == 1
    assert [row.egress_id for row in store.egress.rows()] == [second, second + 1]


def test_a_provider_pause_holds_until_it_ends_and_a_shorter_one_does_not_cut_it(
    store: StorageBackend, connect: Connect
) -> None:
    store.queue.pause_provider("remote", until_ns=T0 + 100)
    store.queue.pause_provider("remote", until_ns=T0 + 50)  # a shorter pause is not kept
    store.queue.pause_provider("other", until_ns=T0 + 10)

    with closing(connect()) as other:
        assert other.queue.paused_providers(T0) == ["other", "remote"]
        assert other.queue.paused_providers(T0 + 10) == ["remote"]
        assert other.queue.paused_providers(T0 + 99) == ["remote"]
        assert other.queue.paused_providers(T0 + 100) == []


# -- the queue: enqueueing ---------------------------------------------------------------------


def test_enqueue_stores_a_new_pending_request(store: StorageBackend) -> None:
    new = new_request("a.py", priority=3, force=True, superseded_frame_id="frame-old")

    (result,) = enqueue(store, new, now_ns=T0 + 7)

    stored = result.request
    assert result.joined is False
    assert (stored.key, stored.path, stored.node_type, stored.provider_name) == (
        new.key,
        "a.py",
        NodeType.FILE,
        "local",
    )
    assert (stored.priority, stored.plan_id, stored.force, stored.superseded_frame_id) == (
        3,
        None,
        True,
        "frame-old",
    )
    assert stored.state is RequestState.PENDING
    assert (stored.attempts, stored.lease_owner, stored.frame_id) == (0, None, None)
    assert (stored.error_class, stored.error_message) == (None, None)
    assert stored.created_at_ns == T0 + 7
    assert stored.next_attempt_at_ns <= T0 + 7  # due at once
    assert store.queue.get(stored.request_id) == stored
    assert store.queue.live_count() == 1


def test_a_request_for_a_live_key_joins_it_raising_never_lowering_its_priority(
    store: StorageBackend,
) -> None:
    first = enqueue_one(store, new_request("a.py", priority=1))

    (higher,) = enqueue(store, new_request("a.py", priority=5), owner=OWNER_B)
    (lower,) = enqueue(store, new_request("a.py", priority=2), owner=OWNER_C)

    assert (higher.joined, higher.request.request_id, higher.request.priority) == (
        True,
        first.request_id,
        5,
    )
    assert (lower.joined, lower.request.request_id, lower.request.priority) == (
        True,
        first.request_id,
        5,
    )
    assert store.queue.get(first.request_id).priority == 5
    assert store.queue.live_count() == 1
    assert [(c.requests, c.joined) for c in store.queue.counts()] == [(1, 2)]


def test_two_requests_for_one_key_in_a_batch_store_one_request(store: StorageBackend) -> None:
    first, second = enqueue(
        store, new_request("a.py", priority=0), new_request("a.py", priority=4), max_live=1
    )

    assert (first.joined, second.joined) == (False, True)
    assert second.request.request_id == first.request.request_id
    assert store.queue.get(first.request.request_id).priority == 4
    assert store.queue.live_count() == 1


def test_a_request_after_the_live_one_finished_is_a_new_request(store: StorageBackend) -> None:
    first = enqueue_one(store, new_request("a.py"))
    claim(store, OWNER_A, T0 + 1)
    finish(store, first.request_id, OWNER_A, T0 + 2, frame_id="frame-a")

    (again,) = enqueue(store, new_request("a.py"), now_ns=T0 + 3)

    assert again.joined is False
    assert again.request.request_id != first.request_id
    assert again.request.state is RequestState.PENDING
    finished = store.queue.get(first.request_id)
    assert (finished.state, finished.frame_id) == (RequestState.DONE, "frame-a")


def test_a_batch_past_max_live_is_refused_whole(store: StorageBackend) -> None:
    enqueue(store, new_request("live.py"))

    with pytest.raises(QueueFull) as refused:
        enqueue(
            store,
            new_request("a.py"),
            new_request("b.py"),
            new_request("c.py"),
            new_request("live.py", priority=9),
            max_live=3,
        )

    assert refused.value.live == 1
    assert store.queue.live_count() == 1
    (only,) = store.queue.counts()
    assert (only.requests, only.joined, only.priority) == (1, 0, 0)  # the join was undone too
    # The same batch within the limit is stored whole.
    results = enqueue(store, new_request("a.py"), new_request("b.py"), max_live=3)
    assert [result.joined for result in results] == [False, False]
    assert store.queue.live_count() == 3


def test_joins_do_not_count_against_max_live(store: StorageBackend) -> None:
    enqueue(store, new_request("a.py"), new_request("b.py"), max_live=2)

    joins = enqueue(store, new_request("a.py"), new_request("b.py"), max_live=2)
    assert [result.joined for result in joins] == [True, True]

    with pytest.raises(QueueFull):
        enqueue(store, new_request("a.py"), new_request("c.py"), max_live=2)
    assert store.queue.live_count() == 2


# -- the queue: claiming -------------------------------------------------------------------------


def test_claim_takes_the_highest_priority_then_the_oldest(store: StorageBackend) -> None:
    ids = [
        enqueue_one(store, new_request(name, priority=priority), now_ns=T0 + index).request_id
        for index, (name, priority) in enumerate(
            [("low-old.py", 1), ("high-old.py", 5), ("high-new.py", 5), ("low-new.py", 1)]
        )
    ]

    order = claimed_ids(store, OWNER_A, T0 + 10)

    assert order == [ids[1], ids[2], ids[0], ids[3]]


def test_a_claimed_request_is_not_claimed_again_while_its_lease_lasts(
    store: StorageBackend,
) -> None:
    request = enqueue_one(store, new_request("a.py"))

    claimed = claim(store, OWNER_A, T0)

    assert claimed is not None
    assert claimed.request_id == request.request_id
    assert (claimed.state, claimed.lease_owner, claimed.attempts) == (
        RequestState.PROCESSING,
        OWNER_A,
        1,
    )
    assert claim(store, OWNER_B, T0 + LEASE - 1) is None
    assert store.queue.live_counts() == {"pending": 0, "processing": 1}


def test_a_request_whose_lease_expired_is_claimed_again_by_another_owner(
    store: StorageBackend,
) -> None:
    request = enqueue_one(store, new_request("a.py"))
    claim(store, OWNER_A, T0)

    again = claim(store, OWNER_B, T0 + LEASE + 1)

    assert again is not None
    assert again.request_id == request.request_id
    assert (again.state, again.lease_owner, again.attempts) == (
        RequestState.PROCESSING,
        OWNER_B,
        2,
    )


def test_the_owner_that_lost_its_lease_cannot_finish_or_retry(store: StorageBackend) -> None:
    request = enqueue_one(store, new_request("a.py"))
    claim(store, OWNER_A, T0)
    claim(store, OWNER_B, T0 + LEASE + 1)

    assert finish(store, request.request_id, OWNER_A, T0 + LEASE + 2, frame_id="frame-a") is None
    assert (
        store.queue.retry_later(
            request.request_id, owner=OWNER_A, due_ns=T0, error_class="x", error_message="y"
        )
        is False
    )
    current = store.queue.get(request.request_id)
    assert (current.state, current.lease_owner, current.frame_id) == (
        RequestState.PROCESSING,
        OWNER_B,
        None,
    )

    done = finish(store, request.request_id, OWNER_B, T0 + LEASE + 3, frame_id="frame-b")
    assert done is not None
    assert (done.state, done.frame_id, done.lease_owner) == (RequestState.DONE, "frame-b", None)


def test_claim_takes_work_whose_lease_expired_before_pending_work(store: StorageBackend) -> None:
    orphan = enqueue_one(store, new_request("orphan.py", priority=0))
    claim(store, OWNER_A, T0)
    urgent = enqueue_one(store, new_request("urgent.py", priority=9), now_ns=T0 + 1)

    order = claimed_ids(store, OWNER_B, T0 + LEASE + 1)

    assert order == [orphan.request_id, urgent.request_id]


def test_claim_skips_the_excluded_agents(store: StorageBackend) -> None:
    writer = enqueue_one(store, new_request("a.py", agent_id=AGENT, priority=9))
    reviewer = enqueue_one(store, new_request("a.py", agent_id=OTHER_AGENT, priority=0))

    first = claim(store, OWNER_A, T0 + 1, excluded_agents=[AGENT])
    assert first is not None
    assert first.request_id == reviewer.request_id
    assert claim(store, OWNER_A, T0 + 1, excluded_agents=[AGENT]) is None
    assert claim(store, OWNER_A, T0 + 1, excluded_agents=[AGENT, OTHER_AGENT]) is None
    assert claimed_ids(store, OWNER_A, T0 + 1) == [writer.request_id]


def test_an_open_plan_makes_only_its_requests_claimable_until_it_closes(
    store: StorageBackend,
) -> None:
    joined_direct = enqueue_one(store, new_request("joined.py"), now_ns=T0)
    direct = enqueue_one(store, new_request("direct.py", priority=9), now_ns=T0 + 1)
    store.queue.open_plan("plan-1", owner=OWNER_B, now_ns=T0, lease_ns=LEASE)
    own, join = enqueue(
        store,
        new_request("planned.py", plan_id="plan-1"),
        new_request("joined.py", plan_id="plan-1"),
        owner=OWNER_B,
        now_ns=T0 + 2,
    )
    # A plan item that joins direct work makes that work part of the plan.
    assert (join.joined, join.request.request_id) == (True, joined_direct.request_id)
    assert store.queue.active_plan(T0 + 3) == "plan-1"

    assert claimed_ids(store, OWNER_A, T0 + 3) == [
        joined_direct.request_id,
        own.request.request_id,
    ]

    store.queue.close_plan("plan-1")
    assert store.queue.active_plan(T0 + 3) is None
    assert claimed_ids(store, OWNER_A, T0 + 3) == [direct.request_id]


def test_the_oldest_open_plan_is_the_active_one(store: StorageBackend) -> None:
    store.queue.open_plan("plan-new", owner=OWNER_B, now_ns=T0 + 5, lease_ns=LEASE)
    store.queue.open_plan("plan-old", owner=OWNER_C, now_ns=T0, lease_ns=LEASE)
    first = enqueue_one(store, new_request("new.py", plan_id="plan-new", priority=9))
    second = enqueue_one(store, new_request("old.py", plan_id="plan-old"))

    assert store.queue.active_plan(T0 + 6) == "plan-old"
    assert claimed_ids(store, OWNER_A, T0 + 6) == [second.request_id]
    store.queue.close_plan("plan-old")
    assert store.queue.active_plan(T0 + 6) == "plan-new"
    assert claimed_ids(store, OWNER_A, T0 + 6) == [first.request_id]


# -- the queue: retries, leases and load -----------------------------------------------------------


def test_retry_later_makes_a_request_pending_until_it_is_due(store: StorageBackend) -> None:
    request = enqueue_one(store, new_request("a.py"))
    claim(store, OWNER_A, T0)
    due = T0 + 1_000

    assert (
        store.queue.retry_later(
            request.request_id,
            owner=OWNER_A,
            due_ns=due,
            error_class="rate_limited",
            error_message="slow down",
        )
        is True
    )

    waiting = store.queue.get(request.request_id)
    assert (waiting.state, waiting.next_attempt_at_ns, waiting.lease_owner) == (
        RequestState.PENDING,
        due,
        None,
    )
    assert (waiting.error_class, waiting.error_message) == ("rate_limited", "slow down")
    assert claim(store, OWNER_B, due - 1) is None
    retried = claim(store, OWNER_B, due)
    assert retried is not None
    assert (retried.request_id, retried.attempts, retried.lease_owner) == (
        request.request_id,
        2,
        OWNER_B,
    )


def test_next_due_ns_reports_when_the_next_request_becomes_runnable(
    store: StorageBackend,
) -> None:
    assert store.queue.next_due_ns(T0) is None
    request = enqueue_one(store, new_request("a.py"), now_ns=T0)
    assert store.queue.next_due_ns(T0 + 5) == T0 + 5  # due already: not before now

    claim(store, OWNER_A, T0 + 5)
    assert store.queue.next_due_ns(T0 + 6) == T0 + 5 + LEASE  # the lease expires

    store.queue.retry_later(
        request.request_id, owner=OWNER_A, due_ns=T0 + 100, error_class="x", error_message="y"
    )
    assert store.queue.next_due_ns(T0 + 6) == T0 + 100  # the retry is due

    claim(store, OWNER_A, T0 + 100)
    finish(store, request.request_id, OWNER_A, T0 + 101)
    assert store.queue.next_due_ns(T0 + 102) is None


def test_agent_load_counts_calls_in_flight_per_agent_and_the_last_start(
    store: StorageBackend,
) -> None:
    enqueue(
        store,
        new_request("w1.py", agent_id=AGENT),
        new_request("w2.py", agent_id=AGENT),
        new_request("r1.py", agent_id=OTHER_AGENT),
    )
    claim(store, OWNER_A, T0 + 10)
    claim(store, OWNER_A, T0 + 20)
    reviewed = claim(store, OWNER_B, T0 + 30)
    assert reviewed is not None
    assert reviewed.key.agent_id == OTHER_AGENT

    def load(now_ns: int) -> dict[str, AgentLoad]:
        return {item.agent_id: item for item in store.queue.agent_load(now_ns)}

    assert load(T0 + 40) == {
        AGENT: AgentLoad(AGENT, 2, T0 + 20),
        OTHER_AGENT: AgentLoad(OTHER_AGENT, 1, T0 + 30),
    }
    finish(store, reviewed.request_id, OWNER_B, T0 + 50)
    assert load(T0 + 50)[OTHER_AGENT] == AgentLoad(OTHER_AGENT, 0, T0 + 30)
    # Only live leases are in flight: the first writer call's lease has expired.
    assert load(T0 + 10 + LEASE + 1)[AGENT] == AgentLoad(AGENT, 1, T0 + 20)


def test_renew_extends_the_owners_lease(store: StorageBackend) -> None:
    request = enqueue_one(store, new_request("a.py"))
    claim(store, OWNER_A, T0)

    store.queue.renew(owner=OWNER_A, request_ids=[request.request_id], until_ns=T0 + 3 * LEASE)

    assert claim(store, OWNER_B, T0 + 2 * LEASE) is None
    assert store.queue.next_due_ns(T0) == T0 + 3 * LEASE
    assert store.queue.agent_load(T0 + 2 * LEASE) == [AgentLoad(AGENT, 1, T0)]
    taken = claim(store, OWNER_B, T0 + 3 * LEASE + 1)
    assert taken is not None
    assert taken.request_id == request.request_id


def test_renew_by_another_owner_leaves_the_lease(store: StorageBackend) -> None:
    request = enqueue_one(store, new_request("a.py"))
    claim(store, OWNER_A, T0)

    store.queue.renew(owner=OWNER_B, request_ids=[request.request_id], until_ns=T0 + 3 * LEASE)

    taken = claim(store, OWNER_C, T0 + LEASE + 1)
    assert taken is not None
    assert (taken.request_id, taken.lease_owner) == (request.request_id, OWNER_C)


def test_abandon_cancels_what_only_this_owner_waits_on_and_hands_back_the_rest(
    store: StorageBackend,
) -> None:
    alone = enqueue_one(store, new_request("alone.py"), owner=OWNER_A)
    shared = enqueue_one(store, new_request("shared.py", priority=9), owner=OWNER_A)
    enqueue(store, new_request("shared.py"), owner=OWNER_B)
    detached = enqueue_one(store, new_request("detached.py"), owner=OWNER_A, wait=False)
    running = claim(store, OWNER_A, T0 + 1)
    assert running is not None
    assert running.request_id == shared.request_id

    cancelled = store.queue.abandon(owner=OWNER_A, now_ns=T0 + 2)

    assert cancelled == [alone.request_id]
    assert store.queue.get(alone.request_id).state is RequestState.CANCELLED
    handed_back = store.queue.get(shared.request_id)
    assert (handed_back.state, handed_back.lease_owner) == (RequestState.PENDING, None)
    assert store.queue.get(detached.request_id).state is RequestState.PENDING
    again = claim(store, OWNER_B, T0 + 3)
    assert again is not None
    assert (again.request_id, again.attempts) == (shared.request_id, 2)


def test_owners_are_the_lease_and_plan_holders_and_expire_lets_go_of_theirs(
    store: StorageBackend,
) -> None:
    request = enqueue_one(store, new_request("a.py"))
    claim(store, OWNER_A, T0)
    store.queue.open_plan("plan-1", owner=OWNER_C, now_ns=T0, lease_ns=LEASE)
    assert store.queue.owners() == {OWNER_A, OWNER_C}

    store.queue.expire(OWNER_C)
    assert store.queue.active_plan(T0 + 1) is None
    assert store.queue.owners() == {OWNER_A}

    store.queue.expire(OWNER_A)
    taken = claim(store, OWNER_B, T0 + 1)  # long before the lease would have run out
    assert taken is not None
    assert (taken.request_id, taken.attempts) == (request.request_id, 2)
    assert store.queue.owners() == {OWNER_B}


def test_outcomes_returns_only_the_finished_requests(store: StorageBackend) -> None:
    done, failed, running, pending = (
        enqueue_one(store, new_request(name), now_ns=T0 + index).request_id
        for index, name in enumerate(["done.py", "failed.py", "running.py", "pending.py"])
    )
    for _ in range(3):
        claim(store, OWNER_A, T0 + 10)
    finished = finish(store, done, OWNER_A, T0 + 11, frame_id="frame-done")
    broken = finish(
        store,
        failed,
        OWNER_A,
        T0 + 12,
        RequestState.FAILED,
        error_class="provider_error",
        error_message="boom",
    )

    outcomes = store.queue.outcomes([done, failed, running, pending, 10**9])

    assert outcomes == {done: finished, failed: broken}
    assert (outcomes[done].state, outcomes[done].frame_id) == (RequestState.DONE, "frame-done")
    assert (outcomes[failed].state, outcomes[failed].error_class) == (
        RequestState.FAILED,
        "provider_error",
    )
    assert outcomes[failed].error_message == "boom"
    assert store.queue.outcomes([]) == {}


def test_counts_and_live_counts_describe_the_queue(store: StorageBackend) -> None:
    enqueue(store, new_request("pending.py", priority=0))
    enqueue(store, new_request("pending.py", priority=0), owner=OWNER_B)
    enqueue(store, new_request("pending.py", priority=0), owner=OWNER_C)
    enqueue(store, new_request("running.py", priority=1))
    retried = enqueue_one(store, new_request("retried.py", agent_id=OTHER_AGENT, priority=5))
    claim(store, OWNER_A, T0 + 1)
    store.queue.retry_later(
        retried.request_id, owner=OWNER_A, due_ns=T0 + 2, error_class="x", error_message="y"
    )
    claim(store, OWNER_A, T0 + 2)
    finish(store, retried.request_id, OWNER_A, T0 + 3)
    claim(store, OWNER_A, T0 + 4)

    assert sorted(store.queue.counts()) == sorted(
        [
            QueueCount("pending", AGENT, 0, 1, 2, 0),
            QueueCount("processing", AGENT, 1, 1, 0, 0),
            QueueCount("done", OTHER_AGENT, 5, 1, 0, 1),
        ]
    )
    assert store.queue.live_counts() == {"pending": 1, "processing": 1}
    assert store.queue.live_count() == 2


# -- sessions and events ------------------------------------------------------------------------


def test_create_session_refuses_a_taken_id(store: StorageBackend) -> None:
    assert create_session(store, "s-1", T0) is True
    assert (
        store.events.create_session("s-1", command="other", owner=OWNER_B, started_at_ns=T0 + 9)
        is False
    )

    row = session(store, "s-1")
    assert (row.session_id, row.command, row.owner, row.started_at_ns) == (
        "s-1",
        "scan",
        OWNER_A,
        T0,
    )
    assert (row.ended_at_ns, row.outcome, row.last_seq) == (None, None, 0)
    assert store.events.session("s-2") is None


def test_append_stores_events_in_seq_order_and_raises_last_seq_and_heartbeat(
    store: StorageBackend,
) -> None:
    create_session(store, "s-1", T0)

    store.events.append([event("s-1", 1), event("s-1", 2), event("s-1", 3)], now_ns=T0 + 100)
    assert (session(store, "s-1").last_seq, session(store, "s-1").heartbeat_ns) == (3, T0 + 100)

    # Batches may commit out of order: neither number moves back.
    store.events.append([event("s-1", 6), event("s-1", 7)], now_ns=T0 + 400)
    store.events.append([event("s-1", 4), event("s-1", 5)], now_ns=T0 + 300)

    row = session(store, "s-1")
    assert (row.last_seq, row.heartbeat_ns) == (7, T0 + 400)
    assert store.events.events("s-1") == [event("s-1", seq) for seq in range(1, 8)]


def test_beat_renews_the_heartbeat(store: StorageBackend) -> None:
    create_session(store, "s-1", T0)

    store.events.beat("s-1", T0 + 500)

    assert session(store, "s-1").heartbeat_ns == T0 + 500
    assert session(store, "s-1").ended_at_ns is None


def test_append_with_ended_closes_the_session(store: StorageBackend) -> None:
    create_session(store, "s-1", T0)

    store.events.append(
        [event("s-1", 1, "session_ended")], now_ns=T0 + 10, ended=("s-1", T0 + 9, "ok")
    )

    row = session(store, "s-1")
    assert (row.ended_at_ns, row.outcome, row.last_seq) == (T0 + 9, "ok", 1)
    assert store.events.events("s-1") == [event("s-1", 1, "session_ended")]


def test_sessions_are_newest_first_with_a_limit(store: StorageBackend) -> None:
    create_session(store, "s-mid", T0 + 10)
    create_session(store, "s-new", T0 + 20)
    create_session(store, "s-old", T0)

    assert [row.session_id for row in store.events.sessions()] == ["s-new", "s-mid", "s-old"]
    assert [row.session_id for row in store.events.sessions(limit=2)] == ["s-new", "s-mid"]
    assert store.events.sessions(limit=2)[0] == session(store, "s-new")


def test_find_returns_the_one_session_with_the_prefix(store: StorageBackend) -> None:
    for session_id in ("20240501-aaaa", "20240501-aabb", "20240502-cccc"):
        create_session(store, session_id)

    assert store.events.find("20240502").session_id == "20240502-cccc"
    assert store.events.find("20240501-aab").session_id == "20240501-aabb"
    assert store.events.find("20240501-aaaa") == session(store, "20240501-aaaa")


def test_find_refuses_an_unknown_or_ambiguous_prefix(store: StorageBackend) -> None:
    for session_id in ("20240501-aaaa", "20240501-aabb"):
        create_session(store, session_id)

    with pytest.raises(UsageError):
        store.events.find("20240501-aa")
    with pytest.raises(UsageError):
        store.events.find("1999")
    with pytest.raises(UsageError):
        store.events.find("20240501-aaaab")


def test_events_after_seq_with_a_limit(store: StorageBackend) -> None:
    create_session(store, "s-1")
    create_session(store, "s-2")
    store.events.append([event("s-1", seq) for seq in range(1, 6)], now_ns=T0 + 1)
    store.events.append([event("s-2", seq) for seq in range(1, 3)], now_ns=T0 + 1)

    assert store.events.events("s-1", after_seq=2) == [event("s-1", s) for s in (3, 4, 5)]
    assert store.events.events("s-1", after_seq=1, limit=2) == [event("s-1", s) for s in (2, 3)]
    assert store.events.events("s-1", after_seq=5) == []
    assert store.events.events("s-2") == [event("s-2", 1), event("s-2", 2)]
    assert store.events.events("s-3") == []


def test_delete_removes_ended_sessions_with_their_events_never_a_running_one(
    store: StorageBackend,
) -> None:
    create_session(store, "s-ended", T0)
    create_session(store, "s-running", T0 + 1)
    store.events.append(
        [event("s-ended", 1), event("s-ended", 2)], now_ns=T0 + 2, ended=("s-ended", T0 + 2, "ok")
    )
    store.events.append([event("s-running", 1)], now_ns=T0 + 2)

    deleted = store.events.delete(["s-ended", "s-running", "s-unknown"])

    assert deleted == ["s-ended"]
    assert store.events.session("s-ended") is None
    assert store.events.events("s-ended") == []
    assert [row.session_id for row in store.events.sessions()] == ["s-running"]
    assert store.events.events("s-running") == [event("s-running", 1)]
    assert store.events.delete([]) == []


# -- transactions and other connections -----------------------------------------------------------


def _write_some_of_everything(store: StorageBackend, tree: Tree) -> None:
    write_tree(store, tree)
    store.frames.append(make_frame(tree.record("src/a.py").node_id, "About a.", T0 + 1))
    enqueue(store, new_request("a.py"))
    create_session(store, "s-1")
    store.events.append([event("s-1", 1)], now_ns=T0 + 2)


def _assert_empty(store: StorageBackend) -> None:
    assert store.nodes.count_records() == 0
    assert store.nodes.load_tree() == {}
    assert store.nodes.last_scan() is None
    assert store.frames.count() == 0
    assert store.frames.head_count() == 0
    assert store.queue.live_count() == 0
    assert store.queue.counts() == []
    assert store.events.sessions() == []
    assert store.events.events("s-1") == []


def test_a_failed_transaction_leaves_nothing(store: StorageBackend, connect: Connect) -> None:
    with pytest.raises(Boom), store.transaction():
        _write_some_of_everything(store, sample_tree())
        raise Boom

    _assert_empty(store)
    with closing(connect()) as other:
        _assert_empty(other)


def test_a_failed_nested_transaction_rolls_back_only_its_own_writes(
    store: StorageBackend, connect: Connect
) -> None:
    tree = sample_tree()
    node_id = tree.record("src/a.py").node_id

    with store.transaction():
        write_tree(store, tree)
        create_session(store, "s-outer-1")
        with pytest.raises(Boom), store.transaction():
            create_session(store, "s-inner")
            store.frames.append(make_frame(node_id, "About a.", T0 + 1))
            enqueue(store, new_request("a.py"))
            raise Boom
        create_session(store, "s-outer-2")

    with closing(connect()) as other:
        assert other.nodes.count_records() == len(tree.records)
        assert other.nodes.last_scan() is not None
        assert sorted(row.session_id for row in other.events.sessions()) == [
            "s-outer-1",
            "s-outer-2",
        ]
        assert other.frames.count() == 0
        assert other.frames.head(key_of(node_id)) is None
        assert other.queue.live_count() == 0


def test_a_transaction_is_seen_by_other_connections_only_once_it_commits(
    store: StorageBackend, connect: Connect
) -> None:
    with closing(connect()) as other:
        with store.transaction():
            create_session(store, "s-1")
            enqueue(store, new_request("a.py"))
            assert other.events.session("s-1") is None
            assert other.queue.live_count() == 0

        assert other.events.session("s-1") == session(store, "s-1")
        assert other.queue.live_count() == 1


def test_another_connection_reads_everything_written(
    store: StorageBackend, connect: Connect
) -> None:
    tree = sample_tree()
    _write_some_of_everything(store, tree)
    node_id = tree.record("src/a.py").node_id

    with closing(connect()) as other:
        assert other.nodes.load_tree() == store.nodes.load_tree()
        assert other.nodes.get(tree.root.node_id) == tree.root
        assert other.nodes.last_scan() == store.nodes.last_scan()
        assert other.frames.head_frame(key_of(node_id)) == store.frames.head_frame(key_of(node_id))
        assert other.queue.counts() == store.queue.counts()
        assert other.events.session("s-1") == session(store, "s-1")
        assert other.events.events("s-1") == [event("s-1", 1)]
        assert other.integrity_problems() == []
    assert store.integrity_problems() == []


def test_change_marker_changes_after_another_connection_commits(
    store: StorageBackend, connect: Connect
) -> None:
    with closing(connect()) as other:
        before = store.change_marker()

        enqueue(other, new_request("a.py"))

        assert store.change_marker() != before


def test_change_marker_stays_after_a_read(store: StorageBackend, connect: Connect) -> None:
    enqueue(store, new_request("a.py"))
    with closing(connect()) as other:
        before = store.change_marker()

        assert other.queue.live_count() == 1
        other.queue.counts()
        other.events.sessions()
        other.nodes.load_tree()
        store.queue.live_count()

        assert store.change_marker() == before
