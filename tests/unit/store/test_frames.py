"""The frame repository: append-only frames, written with their head in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from merkle.errors import StoreConflict
from merkle.metadata import Source, build_metadata
from merkle.store import Frame, FrameKey, FrameRepository, open_store
from merkle.store.sqlite import SqliteBackend
from merkle.store.sqlite.frames import SqliteFrames
from merkle.store.sqlite.migrations import LATEST_VERSION, MIGRATIONS
from merkle.tree.hashing import frame_id_of
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import backend, scan

AGENT = "docs-writer"
FRAME_TYPE = "context"


@dataclass
class Store:
    backend: SqliteBackend
    ids: dict[str, str]  # path -> node id of the current tree

    @property
    def frames(self) -> SqliteFrames:
        """Frames and heads."""
        return self.backend.frames

    @property
    def raw(self) -> sqlite3.Connection:
        """The store's own sqlite3 connection, below the backend's error translation."""
        return self.backend.connection.raw


@pytest.fixture
def store(workspace: Workspace) -> Iterator[Store]:
    write_tree(workspace.root, {"a.txt": "alpha\n", "src/b.py": "b = 1\n"})
    scan(workspace)
    with backend(workspace) as opened:
        assert isinstance(opened, SqliteBackend)
        yield Store(opened, opened.nodes.tree_paths())


def make_frame(
    node_id: str,
    content: str,
    created_at_ns: int,
    *,
    agent_id: str = AGENT,
    frame_type: str = FRAME_TYPE,
) -> Frame:
    metadata_json = build_metadata(
        agent_id=agent_id, frame_type=frame_type, source=Source.MANUAL
    ).canonical_json()
    return Frame(
        frame_id=frame_id_of(
            node_id=node_id,
            agent_id=agent_id,
            frame_type=frame_type,
            content=content,
            metadata_json=metadata_json,
        ),
        node_id=node_id,
        agent_id=agent_id,
        frame_type=frame_type,
        content=content,
        metadata_json=metadata_json,
        created_at_ns=created_at_ns,
    )


def head_id(store: Store, node_id: str, agent_id: str = AGENT, frame_type: str = FRAME_TYPE) -> str:
    head = store.frames.head(FrameKey(node_id, agent_id, frame_type))
    assert head is not None, "the key has no head"
    return head.frame_id


def test_append_stores_the_frame_and_points_its_head_at_it(store: Store) -> None:
    frame = make_frame(store.ids["a.txt"], "About a.", 100)

    assert store.frames.append(frame) is True

    assert store.frames.get(frame.frame_id) == frame
    head = store.frames.head(FrameKey(frame.node_id, AGENT, FRAME_TYPE))
    assert head is not None
    assert (head.frame_id, head.created_at_ns) == (frame.frame_id, 100)
    assert store.frames.head_frame(FrameKey(frame.node_id, AGENT, FRAME_TYPE)) == frame
    assert store.frames.count() == 1


def test_appending_a_stored_frame_again_writes_nothing(store: Store) -> None:
    first = make_frame(store.ids["a.txt"], "About a.", 100)
    newer = make_frame(store.ids["a.txt"], "About a, again.", 200)
    store.frames.append(first)
    store.frames.append(newer)

    # The same frame later: its id is the same, so it is not stored again and
    # must not pull the head back to it.
    again = make_frame(store.ids["a.txt"], "About a.", 300)
    assert again.frame_id == first.frame_id
    assert store.frames.append(again) is False

    assert store.frames.count() == 2
    assert store.frames.get(first.frame_id) == first  # created_at_ns of the first write
    assert head_id(store, first.node_id) == newer.frame_id


def test_a_head_moves_on_to_a_newer_frame(store: Store) -> None:
    node_id = store.ids["a.txt"]
    older = make_frame(node_id, "First.", 100)
    newer = make_frame(node_id, "Second.", 200)

    store.frames.append(older)
    store.frames.append(newer)

    assert head_id(store, node_id) == newer.frame_id
    assert store.frames.head_frame(FrameKey(node_id, AGENT, FRAME_TYPE)) == newer


def test_a_head_does_not_move_back_to_an_older_frame(store: Store) -> None:
    node_id = store.ids["a.txt"]
    newer = make_frame(node_id, "Written second, dated later.", 200)
    older = make_frame(node_id, "Written last, dated earlier.", 100)

    store.frames.append(newer)
    assert store.frames.append(older) is True  # stored all the same: frames are history

    head = store.frames.head(FrameKey(node_id, AGENT, FRAME_TYPE))
    assert head is not None
    assert (head.frame_id, head.created_at_ns) == (newer.frame_id, 200)
    assert store.frames.count() == 2


def test_heads_of_different_keys_are_independent(store: Store) -> None:
    a, b = store.ids["a.txt"], store.ids["src/b.py"]
    frames = [
        make_frame(a, "a by the writer", 100),
        make_frame(a, "a by the reviewer", 200, agent_id="reviewer"),
        make_frame(a, "a summary", 300, frame_type="summary"),
        make_frame(b, "b by the writer", 400),
    ]
    for frame in frames:
        store.frames.append(frame)

    assert head_id(store, a) == frames[0].frame_id
    assert head_id(store, a, agent_id="reviewer") == frames[1].frame_id
    assert head_id(store, a, frame_type="summary") == frames[2].frame_id
    assert head_id(store, b) == frames[3].frame_id
    assert store.frames.head(FrameKey(b, "reviewer", FRAME_TYPE)) is None
    assert {h.frame_id for h in store.frames.iter_heads()} == {f.frame_id for f in frames}
    assert {f.frame_id for f in store.frames.iter_frames()} == {f.frame_id for f in frames}


def test_the_database_refuses_to_update_a_frame(store: Store, workspace: Workspace) -> None:
    frame = make_frame(store.ids["a.txt"], "Original.", 100)
    store.frames.append(frame)

    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.raw.execute("UPDATE frames SET content = 'Changed.'")
    # Another program, with a connection of its own, is refused as well.
    with (
        closing(sqlite3.connect(workspace.database_path)) as other,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        other.execute("UPDATE frames SET created_at_ns = 0 WHERE frame_id = ?", (frame.frame_id,))

    assert store.frames.get(frame.frame_id) == frame


def test_the_database_refuses_to_delete_a_frame(store: Store, workspace: Workspace) -> None:
    frame = make_frame(store.ids["a.txt"], "Original.", 100)
    store.frames.append(frame)

    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.raw.execute("DELETE FROM frames")
    with (
        closing(sqlite3.connect(workspace.database_path)) as other,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        other.execute("DELETE FROM frames WHERE frame_id = ?", (frame.frame_id,))

    assert store.frames.count() == 1


def test_the_stores_offer_no_way_to_change_or_remove_a_frame() -> None:
    verbs = ("update", "delete", "remove", "replace", "drop", "purge", "edit", "overwrite")
    for cls in (FrameRepository, SqliteFrames):
        writers = [name for name in vars(cls) if any(verb in name.lower() for verb in verbs)]
        assert writers == [], f"{cls.__name__} offers {writers}"


def test_a_frame_for_a_node_that_is_not_stored_is_refused_and_nothing_written(
    store: Store,
) -> None:
    frame = make_frame("e" * 64, "About nothing.", 100)

    with pytest.raises(StoreConflict):
        store.frames.append(frame)

    assert store.frames.count() == 0
    assert list(store.frames.iter_heads()) == []


def test_a_frame_whose_head_cannot_be_written_is_not_stored_either(store: Store) -> None:
    # Make the head write fail inside the transaction, after the frame's insert.
    store.raw.execute(
        "CREATE TEMP TRIGGER no_heads BEFORE INSERT ON main.heads"
        " BEGIN SELECT RAISE(ABORT, 'heads are read-only today'); END"
    )
    frame = make_frame(store.ids["a.txt"], "About a.", 100)

    with pytest.raises(StoreConflict, match="read-only today"):
        store.frames.append(frame)

    assert store.frames.get(frame.frame_id) is None
    assert store.frames.count() == 0
    store.raw.execute("DROP TRIGGER temp.no_heads")
    assert store.frames.append(frame) is True
    assert head_id(store, frame.node_id) == frame.frame_id


def test_the_database_refuses_a_head_that_points_at_no_frame(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.raw.execute(
            "INSERT INTO heads (node_id, agent_id, frame_type, frame_id, created_at_ns)"
            " VALUES (?, ?, ?, ?, 1)",
            (store.ids["a.txt"], AGENT, FRAME_TYPE, "f" * 64),
        )

    assert list(store.frames.iter_heads()) == []


def test_history_lists_the_frames_of_every_version_of_a_path_newest_first(
    workspace: Workspace,
) -> None:
    write_tree(workspace.root, {"a.txt": "version one\n", "b.txt": "bee\n"})
    scan(workspace)
    with backend(workspace) as opened:
        v1 = opened.nodes.tree_paths()["a.txt"]
    write_tree(workspace.root, {"a.txt": "version two, longer\n"})
    scan(workspace)
    with backend(workspace) as opened:
        paths = opened.nodes.tree_paths()
        v2, b = paths["a.txt"], paths["b.txt"]
        assert v2 != v1
        frames = opened.frames
        first = make_frame(v1, "On version one.", 100)
        second = make_frame(v1, "On version one, rewritten.", 200)
        third = make_frame(v2, "On version two.", 300)
        for frame in (third, first, second):
            frames.append(frame)
        # Frames of another path, agent or frame type are not a.txt's history.
        frames.append(make_frame(b, "On b.", 400))
        frames.append(make_frame(v2, "By the reviewer.", 500, agent_id="reviewer"))
        frames.append(make_frame(v2, "A summary.", 600, frame_type="summary"))

        history = frames.history("a.txt", AGENT, FRAME_TYPE)

    assert history == [third, second, first]


def test_history_breaks_a_timestamp_tie_by_write_order(store: Store) -> None:
    node_id = store.ids["a.txt"]
    written_first = make_frame(node_id, "Same instant, first.", 100)
    written_second = make_frame(node_id, "Same instant, second.", 100)
    store.frames.append(written_first)
    store.frames.append(written_second)

    assert store.frames.history("a.txt", AGENT, FRAME_TYPE) == [written_second, written_first]


def test_history_of_a_path_without_frames_is_empty(store: Store) -> None:
    assert store.frames.history("a.txt", AGENT, FRAME_TYPE) == []
    assert store.frames.history("no/such/path", AGENT, FRAME_TYPE) == []


def test_a_database_from_before_frames_gains_empty_frames_and_heads_on_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at_ns INTEGER NOT NULL)"
        )
        for statement in MIGRATIONS[0].statements:
            old.execute(statement)
        old.execute("INSERT INTO schema_migrations VALUES (1, 'workspace tree', 0)")

    with closing(open_store(path)) as database:
        assert isinstance(database, SqliteBackend)
        triggers = {
            name
            for (name,) in database.connection.raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'frames'"
            )
        }
        assert database.schema_version() == LATEST_VERSION
        assert database.frames.count() == 0
        assert list(database.frames.iter_heads()) == []
    assert triggers == {"frames_are_not_updated", "frames_are_not_deleted"}
