"""ContextApi: the one write boundary (`put_frame`) and the read side, over a real store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from merkle.context.api import ContextApi, FrameDraft, PutResult, metadata_of
from merkle.errors import ContractViolation, MetadataRejected, NodeNotFound
from merkle.metadata import FrameMetadata, Source, build_metadata
from merkle.store import FrameKey
from merkle.store.sqlite import SqliteBackend
from merkle.tree.hashing import frame_id_of
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import backend, scan

AGENT = "docs-writer"
FRAME_TYPE = "context"
MANUAL = build_metadata(agent_id=AGENT, frame_type=FRAME_TYPE, source=Source.MANUAL)

# Fake credentials of the real shapes, assembled so that no scanner mistakes this file for a leak.
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
OPENAI_KEY = "sk-" + "abcdefghijklmnopqrstuvwx1234"
RSA_BLOCK = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"


class FakeClock:
    """A clock that says what the test sets."""

    def __init__(self, now_ns: int = 1_000) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


@dataclass
class Env:
    workspace: Workspace
    store: SqliteBackend
    api: ContextApi
    clock: FakeClock

    def node_id(self, path: str) -> str:
        return self.store.nodes.tree_paths()[path]

    def draft(self, path: str = "a.txt", content: str = "About a.", **changes: Any) -> FrameDraft:
        fields: dict[str, Any] = {
            "node_id": self.node_id(path),
            "agent_id": AGENT,
            "frame_type": FRAME_TYPE,
            "content": content,
            "metadata": MANUAL,
            **changes,
        }
        key = FrameKey(*(fields.pop(name) for name in FrameKey._fields))
        return FrameDraft(key=key, **fields)

    def put(self, at_ns: int, path: str = "a.txt", content: str = "About a.") -> PutResult:
        self.clock.now_ns = at_ns
        return self.api.put_frame(self.draft(path, content))

    def edit(self, files: dict[str, bytes | str]) -> None:
        write_tree(self.workspace.root, files)
        scan(self.workspace)

    def snapshot(self) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
        """Every frame row and every head row."""
        conn = self.store.connection.raw
        return set(conn.execute("SELECT * FROM frames")), set(conn.execute("SELECT * FROM heads"))


@pytest.fixture
def env(workspace: Workspace) -> Iterator[Env]:
    write_tree(workspace.root, {"a.txt": "alpha\n", "src/b.py": "b = 1\n"})
    scan(workspace)
    clock = FakeClock()
    with backend(workspace) as store:
        assert isinstance(store, SqliteBackend)
        yield Env(workspace, store, ContextApi(store, clock_ns=clock), clock)


# -- writing ---------------------------------------------------------------------------


def test_put_frame_stores_a_frame_whose_id_re_derives_and_points_the_head_at_it(
    env: Env,
) -> None:
    draft = env.draft(content="a.txt holds the first letter.")
    env.clock.now_ns = 1_700_000_000_000_000_000

    result = env.api.put_frame(draft)

    assert result.created is True
    frame = env.api.frame(result.frame_id)
    assert frame is not None
    assert (frame.node_id, frame.agent_id, frame.frame_type, frame.content) == (
        draft.key.node_id,
        AGENT,
        FRAME_TYPE,
        "a.txt holds the first letter.",
    )
    assert frame.created_at_ns == 1_700_000_000_000_000_000
    assert frame.metadata_json == MANUAL.canonical_json()
    assert result.frame_id == frame_id_of(
        node_id=draft.key.node_id,
        agent_id=AGENT,
        frame_type=FRAME_TYPE,
        content=draft.content,
        metadata_json=MANUAL.canonical_json(),
    )
    assert env.api.head(FrameKey(draft.key.node_id, AGENT, FRAME_TYPE)) == frame
    assert metadata_of(frame) == MANUAL


def test_put_frame_is_idempotent(env: Env) -> None:
    first = env.put(100)
    frames_after_first = env.snapshot()

    again = env.put(999)  # the same frame, written later

    assert again == PutResult(frame_id=first.frame_id, created=False)
    assert env.snapshot() == frames_after_first
    frame = env.api.frame(first.frame_id)
    assert frame is not None
    assert frame.created_at_ns == 100


def test_the_same_frame_written_through_another_api_gets_the_same_id(env: Env) -> None:
    first = env.put(100)

    other = ContextApi(env.store, clock_ns=lambda: 5_000)
    result = other.put_frame(env.draft())

    assert result == PutResult(frame_id=first.frame_id, created=False)


def test_every_field_but_the_time_goes_into_the_frame_id(env: Env) -> None:
    model = dataclasses.replace(MANUAL, model="gpt-4o-mini")
    reviewer = build_metadata(agent_id="reviewer", frame_type=FRAME_TYPE, source=Source.MANUAL)
    summary = build_metadata(agent_id=AGENT, frame_type="summary", source=Source.MANUAL)
    drafts = [
        env.draft(),
        env.draft(content="About a, differently."),
        env.draft(node_id=env.node_id("src/b.py")),
        env.draft(agent_id="reviewer", metadata=reviewer),
        env.draft(frame_type="summary", metadata=summary),
        env.draft(metadata=model),
    ]

    ids = [env.api.put_frame(draft) for draft in drafts]

    assert all(result.created for result in ids)
    assert len({result.frame_id for result in ids}) == len(drafts)


def test_a_head_only_moves_to_a_newer_frame(env: Env) -> None:
    node_id = env.node_id("a.txt")
    middle = env.put(200, content="Written first, dated 200.")
    env.put(100, content="Written second, dated 100.")

    head = env.api.head(FrameKey(node_id, AGENT, FRAME_TYPE))
    assert head is not None
    assert head.frame_id == middle.frame_id

    newest = env.put(300, content="Written third, dated 300.")

    head = env.api.head(FrameKey(node_id, AGENT, FRAME_TYPE))
    assert head is not None
    assert head.frame_id == newest.frame_id
    assert [f.created_at_ns for f in env.api.history("a.txt", AGENT, FRAME_TYPE)] == [
        300,
        200,
        100,
    ]


def test_writing_an_old_frame_again_does_not_move_the_head_back(env: Env) -> None:
    old = env.put(100, content="Old.")
    new = env.put(200, content="New.")

    assert env.put(300, content="Old.") == PutResult(frame_id=old.frame_id, created=False)

    head = env.api.head(FrameKey(env.node_id("a.txt"), AGENT, FRAME_TYPE))
    assert head is not None
    assert head.frame_id == new.frame_id


def test_the_api_offers_no_way_to_change_or_remove_a_frame() -> None:
    verbs = ("update", "delete", "remove", "replace", "drop", "purge", "edit", "overwrite")
    writers = [name for name in vars(ContextApi) if any(verb in name.lower() for verb in verbs)]
    assert writers == []


# -- what the boundary refuses ---------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "rule"),
    [
        ({"agent_id": "bad agent"}, "agent_id", "must match"),
        ({"agent_id": ""}, "agent_id", "must match"),
        ({"frame_type": "a/b"}, "frame_type", "must match"),
        ({"node_id": "e" * 64}, "node_id", "is not a stored node"),
        ({"node_id": "not-an-id"}, "node_id", "is not a stored node"),
        ({"content": ""}, "content", "is empty"),
        ({"content": " \n\t "}, "content", "is empty"),
        ({"content": "x" * 1_000_001}, "content", "at most 1,000,000"),
        ({"content": "text\x00with a NUL"}, "content", "NUL"),
        ({"content": f"Config:\naws_access_key_id = {AWS_KEY_ID}\n"}, "content", "credential"),
        ({"content": f"The key file:\n{RSA_BLOCK}\n"}, "content", "credential"),
        ({"content": f"Set OPENAI_API_KEY={OPENAI_KEY} first."}, "content", "credential"),
        ({"agent_id": "reviewer"}, "agent_id", "differs from the frame's own"),
        ({"frame_type": "summary"}, "frame_type", "differs from the frame's own"),
    ],
)
def test_a_frame_that_breaks_the_contract_writes_nothing_and_says_why(
    env: Env, changes: dict[str, Any], key: str, rule: str
) -> None:
    env.put(100, content="An earlier, valid frame.")
    before = env.snapshot()
    env.clock.now_ns = 200

    with pytest.raises(ContractViolation) as caught:
        env.api.put_frame(env.draft(**{"content": "A valid text.", **changes}))

    assert caught.value.key == key
    assert rule in caught.value.rule
    assert env.snapshot() == before


def test_the_credential_refusal_names_the_rule_and_does_not_repeat_the_secret(env: Env) -> None:
    with pytest.raises(ContractViolation) as caught:
        env.api.put_frame(env.draft(content=f"token {OPENAI_KEY}"))

    assert "OpenAI-style API key" in caught.value.rule
    assert OPENAI_KEY not in caught.value.message
    assert caught.value.hint


def test_prose_about_secrets_is_not_mistaken_for_a_credential(env: Env) -> None:
    content = "Reads api_key: from the environment; password: never logged; tokens: counted."

    result = env.put(100, content=content)

    assert result.created is True


def direct(**changes: Any) -> FrameMetadata:
    """Metadata made without the builder, so the policy has not seen it."""
    fields: dict[str, Any] = {"agent_id": AGENT, "frame_type": FRAME_TYPE, "source": Source.MANUAL}
    return FrameMetadata(**{**fields, **changes})


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        (direct(model=OPENAI_KEY), "model"),
        (direct(model="gpt-4o\nmini"), "model"),
        (direct(model="m" * 201), "model"),
        (direct(model="api_key=abcd1234"), "model"),
        (direct(provider="my provider"), "provider"),
        (direct(provider=AWS_KEY_ID), "provider"),
        (direct(provider_type="azure"), "provider_type"),
        (direct(prompt_digest="Summarise this file for a new engineer."), "prompt_digest"),
        (direct(input_tokens=True), "input_tokens"),
        (direct(input_tokens=-1), "input_tokens"),
        (direct(output_tokens=10**10), "output_tokens"),
        (direct(output_tokens=2.5), "output_tokens"),
        (direct(attempts=101), "attempts"),
        (direct(attempts=None), "attempts"),
        (direct(source=Source.GENERATED), "source"),
        (direct(source=Source.GENERATED, provider="local", provider_type="local"), "source"),
        (direct(source="auto"), "source"),
    ],
)
def test_metadata_that_breaks_the_contract_writes_neither_frame_nor_head(
    env: Env, metadata: FrameMetadata, key: str
) -> None:
    before = env.snapshot()

    with pytest.raises(MetadataRejected) as caught:
        env.api.put_frame(env.draft(metadata=metadata))

    assert caught.value.key == key
    assert caught.value.rule
    assert env.snapshot() == before
    assert before == (set(), set())


def test_metadata_made_without_the_builder_is_stored_once_it_passes_the_policy(env: Env) -> None:
    metadata = direct(
        source=Source.GENERATED,
        provider="openai-main",
        provider_type="openai",
        model="gpt-4o-mini",
        prompt_digest="ab" * 32,
        input_tokens=10,
        output_tokens=5,
        attempts=2,
    )

    result = env.api.put_frame(env.draft(metadata=metadata))

    frame = env.api.frame(result.frame_id)
    assert frame is not None
    assert metadata_of(frame) == metadata


# -- reading ---------------------------------------------------------------------------


def test_read_of_a_node_without_frames_is_none(env: Env) -> None:
    node = env.api.node_at("a.txt")

    assert env.api.read(node, AGENT, FRAME_TYPE) is None
    assert env.api.head(FrameKey(node.node_id, AGENT, FRAME_TYPE)) is None


def test_read_returns_the_head_frame_with_its_typed_metadata(env: Env) -> None:
    env.put(100, content="Old.")
    new = env.put(200, content="New.")
    node = env.api.node_at("a.txt")

    read = env.api.read(node, AGENT, FRAME_TYPE)

    assert read is not None
    assert (read.path, read.node_id, read.frame.frame_id, read.stale) == (
        "a.txt",
        node.node_id,
        new.frame_id,
        False,
    )
    assert read.metadata == MANUAL
    assert env.api.read(node, "reviewer", FRAME_TYPE) is None
    assert env.api.read(node, AGENT, "summary") is None


def test_read_after_an_edit_returns_the_earlier_versions_frame_marked_stale(env: Env) -> None:
    before_edit = env.node_id("a.txt")
    written = env.put(100, content="About the first version.")

    env.edit({"a.txt": "alpha, edited\n"})
    node = env.api.node_at("a.txt")
    read = env.api.read(node, AGENT, FRAME_TYPE)

    assert node.node_id != before_edit
    assert read is not None
    assert read.stale is True
    assert read.node_id == node.node_id
    assert read.frame.node_id == before_edit
    assert read.frame.frame_id == written.frame_id
    assert env.api.head(FrameKey(node.node_id, AGENT, FRAME_TYPE)) is None


def test_a_stale_read_shows_the_newest_frame_of_the_earlier_versions(env: Env) -> None:
    env.put(100, content="On version one.")
    env.edit({"a.txt": "version two\n"})
    on_two = env.put(200, content="On version two.")
    env.edit({"a.txt": "version three, not described yet\n"})

    read = env.api.read(env.api.node_at("a.txt"), AGENT, FRAME_TYPE)

    assert read is not None
    assert read.stale is True
    assert read.frame.frame_id == on_two.frame_id


def test_the_current_versions_head_wins_over_a_later_dated_frame_of_an_earlier_version(
    env: Env,
) -> None:
    env.put(500, content="On version one, dated later.")
    env.edit({"a.txt": "version two\n"})
    current = env.put(100, content="On version two, dated earlier.")

    read = env.api.read(env.api.node_at("a.txt"), AGENT, FRAME_TYPE)

    assert read is not None
    assert read.stale is False
    assert read.frame.frame_id == current.frame_id


def test_history_spans_an_edit_newest_first_and_keeps_the_old_head(env: Env) -> None:
    v1 = env.node_id("a.txt")
    first = env.put(100, content="On version one.")
    second = env.put(200, content="On version one, again.")
    env.edit({"a.txt": "version two\n"})
    v2 = env.node_id("a.txt")
    third = env.put(300, content="On version two.")
    env.put(400, path="src/b.py", content="On b.")

    history = env.api.history("a.txt", AGENT, FRAME_TYPE)

    assert [f.frame_id for f in history] == [third.frame_id, second.frame_id, first.frame_id]
    assert [f.node_id for f in history] == [v2, v1, v1]
    old_head = env.api.head(FrameKey(v1, AGENT, FRAME_TYPE))
    new_head = env.api.head(FrameKey(v2, AGENT, FRAME_TYPE))
    assert old_head is not None
    assert new_head is not None
    assert (old_head.frame_id, new_head.frame_id) == (second.frame_id, third.frame_id)


# -- finding nodes ---------------------------------------------------------------------


def test_node_at_finds_files_directories_and_the_root(env: Env) -> None:
    assert env.api.node_at("a.txt").node_id == env.node_id("a.txt")
    assert env.api.node_at("src").node_id == env.node_id("src")
    assert env.api.node_at(".").node_id == env.node_id(".")


@pytest.mark.parametrize("path", ["missing.txt", "src/missing.py", "new.txt"])
def test_a_path_not_in_the_scanned_tree_is_not_found_with_a_hint_to_scan(
    env: Env, path: str
) -> None:
    write_tree(env.workspace.root, {"new.txt": "written after the scan\n"})

    with pytest.raises(NodeNotFound) as caught:
        env.api.node_at(path)

    assert path in caught.value.message
    assert caught.value.hint is not None
    assert "merkle scan" in caught.value.hint


def test_an_edited_path_resolves_to_its_version_of_the_last_scan(env: Env) -> None:
    before = env.node_id("a.txt")
    env.edit({"a.txt": "changed\n"})

    assert env.api.node_at("a.txt").node_id != before
    assert env.api.node(before).path == "a.txt"  # earlier versions stay readable by id


def test_node_resolves_a_whole_id_or_a_unique_prefix_in_any_case(env: Env) -> None:
    node_id = env.node_id("src/b.py")

    assert env.api.node(node_id).path == "src/b.py"
    assert env.api.node(node_id[:12]).node_id == node_id
    assert env.api.node(node_id[:12].upper()).node_id == node_id


@pytest.mark.parametrize("reference", ["abc", "", "zzzz", "f" * 64])
def test_a_node_reference_that_is_too_short_or_matches_nothing_is_not_found(
    env: Env, reference: str
) -> None:
    with pytest.raises(NodeNotFound) as caught:
        env.api.node(reference)

    assert "matches no stored node" in caught.value.message
    assert caught.value.hint


def test_a_prefix_shared_by_two_nodes_is_refused_as_ambiguous(env: Env) -> None:
    with env.store.transaction():
        for node_id in ("abcd" + "0" * 60, "abcd" + "1" * 60):
            env.store.connection.execute(
                "INSERT INTO nodes (node_id, path, node_type, size_bytes, content_hash)"
                " VALUES (?, ?, 'file', 1, ?)",
                (node_id, f"twin-{node_id[4]}", "0" * 64),
            )

    with pytest.raises(NodeNotFound) as caught:
        env.api.node("abcd")

    assert "several" in caught.value.message
    assert env.api.node("abcd1").path == "twin-1"
