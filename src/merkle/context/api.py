"""ContextApi: the one write boundary for frames (`put_frame`) and the read side."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from merkle.errors import ContractViolation, MetadataRejected, NodeNotFound
from merkle.metadata import IDENTIFIER, FrameMetadata, credential_rule, validate_metadata
from merkle.store import Frame, FrameKey, NodeRecord, StorageBackend
from merkle.tree.hashing import frame_id_of, sources_digest

MAX_CONTENT_CHARS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameDraft:
    """A frame before it is written: what `put_frame` takes."""

    key: FrameKey
    content: str
    metadata: FrameMetadata


@dataclass(frozen=True, slots=True, kw_only=True)
class PutResult:
    """What `put_frame` did: the frame's id, and whether it was new."""

    frame_id: str
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextRead:
    """A frame read back for a node, with its typed metadata.

    `stale_reason` says why the frame no longer describes the node, when it
    does not: it belongs to an earlier version of the path, or a directory's
    child has a newer frame than the one the directory's was written from, or
    (said by the app, which sees the disk) the file changed since the scan.
    """

    path: str
    node_id: str
    frame: Frame
    metadata: FrameMetadata
    stale_reason: str | None = None

    @property
    def stale(self) -> bool:
        """Whether the frame no longer describes the node as it is."""
        return self.stale_reason is not None


def metadata_of(frame: Frame) -> FrameMetadata:
    """The typed metadata of a stored frame, checked by the metadata policy."""
    return validate_metadata(json.loads(frame.metadata_json))


def _check_content(content: str) -> None:
    if not content.strip():
        raise ContractViolation("content", "is empty")
    if len(content) > MAX_CONTENT_CHARS:
        raise ContractViolation(
            "content", f"is {len(content):,} characters; at most {MAX_CONTENT_CHARS:,}"
        )
    if "\x00" in content:
        raise ContractViolation("content", "holds NUL characters: frames are text")
    rule = credential_rule(content)
    if rule is not None:
        raise ContractViolation(
            "content",
            f"looks like it holds a credential ({rule}); frames never store secrets",
            hint="remove the secret from the text and write the frame again",
        )


class ContextApi:
    """Writes frames through one validated boundary and reads them back."""

    def __init__(
        self, store: StorageBackend, *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self._nodes = store.nodes
        self._frames = store.frames
        self._clock_ns = clock_ns

    # -- the write boundary ------------------------------------------------------

    def put_frame(self, draft: FrameDraft) -> PutResult:
        """Validate a frame and its metadata, then write frame and head in one transaction.

        Writing a frame that is already stored is a no-op that returns the same id.
        Raises `ContractViolation` (or `MetadataRejected`) naming the key and the
        rule; then nothing is written.
        """
        key = draft.key
        for name, value in (("agent_id", key.agent_id), ("frame_type", key.frame_type)):
            if not IDENTIFIER.fullmatch(value):
                raise ContractViolation(name, f"must match {IDENTIFIER.pattern}")
        if not self._nodes.exists(key.node_id):
            raise ContractViolation("node_id", f"{key.node_id} is not a stored node")
        _check_content(draft.content)
        metadata = validate_metadata(draft.metadata.to_dict())
        for name, value in (("agent_id", key.agent_id), ("frame_type", key.frame_type)):
            if getattr(metadata, name) != value:
                raise MetadataRejected(name, "differs from the frame's own")
        metadata_json = metadata.canonical_json()
        frame = Frame(
            frame_id=frame_id_of(
                node_id=key.node_id,
                agent_id=key.agent_id,
                frame_type=key.frame_type,
                content=draft.content,
                metadata_json=metadata_json,
            ),
            node_id=key.node_id,
            agent_id=key.agent_id,
            frame_type=key.frame_type,
            content=draft.content,
            metadata_json=metadata_json,
            created_at_ns=self._clock_ns(),
        )
        created = self._frames.append(frame)
        return PutResult(frame_id=frame.frame_id, created=created)

    # -- the read side -------------------------------------------------------------

    def head(self, key: FrameKey) -> Frame | None:
        """The head frame of `key`, if any."""
        return self._frames.head_frame(key)

    def frame(self, frame_id: str) -> Frame | None:
        """The frame with this id, if stored."""
        return self._frames.get(frame_id)

    def history(self, path: str, agent_id: str, frame_type: str) -> list[Frame]:
        """Every frame ever written for `path`, across its node ids, newest first."""
        return self._frames.history(path, agent_id, frame_type)

    def node_at(self, path: str) -> NodeRecord:
        """The current tree's node at canonical `path`."""
        entry = self._nodes.entry(path)
        record = None if entry is None else self._nodes.get(entry.node_id)
        if record is None:
            raise NodeNotFound(
                f"{path} is not in the scanned tree",
                hint="run `merkle scan` to take in new files, and check the path",
            )
        return record

    def node(self, node_ref: str) -> NodeRecord:
        """The stored node whose id is `node_ref` or starts with it (a unique prefix)."""
        matches = self._nodes.find(node_ref.lower()) if len(node_ref) >= 4 else []
        record = self._nodes.get(matches[0]) if len(matches) == 1 else None
        if record is None:
            problem = "matches several nodes" if len(matches) > 1 else "matches no stored node"
            raise NodeNotFound(
                f"node id {node_ref} {problem}",
                hint="give at least 4 hex digits of an id printed by `merkle scan` or `status`",
            )
        return record

    def read(self, node: NodeRecord, agent_id: str, frame_type: str) -> ContextRead | None:
        """The head frame of `node`, or else the newest frame of an earlier version of
        its path (stale), or None when the path never had one."""
        frame = self.head(FrameKey(node.node_id, agent_id, frame_type))
        if frame is None:
            earlier = self.history(node.path, agent_id, frame_type)
            frame = earlier[0] if earlier else None
        if frame is None:
            return None
        return ContextRead(
            path=node.path,
            node_id=node.node_id,
            frame=frame,
            metadata=metadata_of(frame),
            stale_reason=self.stale_reason(node, frame),
        )

    def stale_reason(self, node: NodeRecord, frame: Frame) -> str | None:
        """Why `frame` no longer describes `node`, or None when it does.

        A directory's frame is written from its children's frames, leaf to
        trunk: a child whose head is newer than the directory's frame was
        regenerated (or written by hand) since, and the directory's text may
        no longer say what the child is.
        """
        if frame.node_id != node.node_id:
            return f"written for an earlier version ({frame.node_id})"
        if not node.children:
            return None
        heads = [
            (name, self._frames.head(FrameKey(child_id, frame.agent_id, frame.frame_type)))
            for name, child_id in node.children
        ]
        recorded = metadata_of(frame).sources_digest
        if recorded is not None:
            # Written from recorded child frames: stale exactly when one of them moved.
            current = [(name, head.frame_id) for name, head in heads if head is not None]
            if len(current) == len(heads) and sources_digest(current) == recorded:
                return None
            moved = next(
                (
                    name
                    for name, head in heads
                    if head is None or head.created_at_ns > frame.created_at_ns
                ),
                None,
            )
            return (
                f"the frame of its child {moved} is newer"
                if moved
                else "its children's frames changed"
            )
        # A frame written by hand records nothing: a newer child frame is all there is.
        for name, head in heads:
            if head is not None and head.created_at_ns > frame.created_at_ns:
                return f"the frame of its child {name} is newer"
        return None
