"""BLAKE3 content hashes and NodeIDs.

A NodeID is the BLAKE3 hash (hex) of a length-prefixed encoding of the node
type, the canonical path and, for a file, its content hash, for a directory,
its children as `(name, node_id)` sorted by name. Length prefixes make the
encoding unambiguous, so no two different nodes share an encoding.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Sequence

from blake3 import blake3

CHUNK_BYTES = 1 << 20
_VERSION = b"merkle.node.v1"
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(8, "big") + value


def file_node_id(path: str, content_hash: str) -> str:
    """The NodeID of a file at canonical `path` whose bytes hash to `content_hash`."""
    encoded = (
        _field(_VERSION)
        + _field(b"file")
        + _field(path.encode("utf-8"))
        + _field(bytes.fromhex(content_hash))
    )
    return blake3(encoded).hexdigest()


def directory_node_id(path: str, children: Sequence[tuple[str, str]]) -> str:
    """The NodeID of a directory at canonical `path` with `(name, node_id)` children.

    The children are sorted by name here, so callers may pass them in any order.
    """
    hasher = blake3(_field(_VERSION) + _field(b"directory") + _field(path.encode("utf-8")))
    hasher.update(len(children).to_bytes(8, "big"))
    for name, child_id in sorted(children):
        hasher.update(_field(name.encode("utf-8")) + _field(bytes.fromhex(child_id)))
    return hasher.hexdigest()


def hash_bytes(data: bytes) -> str:
    """The content hash of an in-memory byte string."""
    return blake3(data).hexdigest()


def hash_file(
    path: str | os.PathLike[str],
    *,
    buffer: bytearray | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> str:
    """The content hash of the file at `path` (see `hash_file_head`)."""
    return hash_file_head(path, buffer=buffer, on_bytes=on_bytes)[0]


def hash_file_head(
    path: str | os.PathLike[str],
    *,
    head_bytes: int = 0,
    buffer: bytearray | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[str, bytes]:
    """The content hash of the file at `path`, read in fixed-size chunks, and its
    first `head_bytes` bytes (read once, for what a scan learns from the text).

    Memory stays bounded by one chunk whatever the file's size. The final
    component is opened without following a symbolic link (`O_NOFOLLOW`), so a
    file swapped for a link after the walk is refused rather than read through.
    `on_bytes` is told how many bytes each chunk held, for progress.
    """
    chunk = buffer if buffer is not None else bytearray(CHUNK_BYTES)
    view = memoryview(chunk)
    hasher = blake3()
    head = bytearray()
    # O_NONBLOCK: a file swapped for a FIFO after the walk must not block the scan.
    fd = os.open(path, _OPEN_FLAGS | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        while True:
            count = os.readv(fd, [chunk])
            if count == 0:
                break
            hasher.update(view[:count])
            if len(head) < head_bytes:
                head += view[: min(count, head_bytes - len(head))]
            if on_bytes is not None:
                on_bytes(count)
    finally:
        os.close(fd)
    return hasher.hexdigest(), bytes(head)


def frame_id_of(
    *, node_id: str, agent_id: str, frame_type: str, content: str, metadata_json: str
) -> str:
    """The FrameID: BLAKE3 over every field of a frame but its creation time."""
    encoded = b"".join(
        _field(value)
        for value in (
            b"merkle.frame.v1",
            bytes.fromhex(node_id),
            agent_id.encode("utf-8"),
            frame_type.encode("utf-8"),
            content.encode("utf-8"),
            metadata_json.encode("utf-8"),
        )
    )
    return blake3(encoded).hexdigest()


def sources_digest(children: Iterable[tuple[str, str]]) -> str:
    """The digest of the child frames a directory's frame is written from: each child's
    name with the id of the frame used, in name order."""
    encoded = b"".join(
        _field(name.encode("utf-8")) + _field(bytes.fromhex(frame_id))
        for name, frame_id in sorted(children)
    )
    return blake3(b"merkle.sources.v1" + encoded).hexdigest()
