"""Content hashes and NodeIDs: stable encodings, unambiguous fields, streaming reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from blake3 import blake3

from merkle.tree.hashing import directory_node_id, file_node_id, hash_bytes, hash_file

HELLO_HASH = "8e4c7c1b99dbfd50e7a95185fead5ee1448fa904a2fdd778eaf5f2dbfd629a99"


def test_node_ids_are_pinned_so_an_encoding_change_cannot_slip_through() -> None:
    # Ids are stored and compared across machines and versions: they must not drift.
    assert hash_bytes(b"hello\n") == HELLO_HASH
    file_id = file_node_id("src/a.py", HELLO_HASH)
    assert file_id == "d57452f3421d43adf6712902e3ae8b9ffa79e1530ea8b64875ffe70c637fd31b"
    assert directory_node_id("src", [("a.py", file_id)]) == (
        "42ab6cc6da2c37848ef82a03440db08bb61dca5b8bbf6ea9adf81e4822ce8c69"
    )


def test_file_id_depends_on_path_and_content() -> None:
    other = hash_bytes(b"other")
    assert file_node_id("a", HELLO_HASH) != file_node_id("b", HELLO_HASH)
    assert file_node_id("a", HELLO_HASH) != file_node_id("a", other)


def test_directory_id_does_not_depend_on_the_order_children_are_given_in() -> None:
    children = [("b", file_node_id("d/b", HELLO_HASH)), ("a", file_node_id("d/a", HELLO_HASH))]
    assert directory_node_id("d", children) == directory_node_id("d", list(reversed(children)))


def test_length_prefixes_keep_shifted_names_apart() -> None:
    child = file_node_id("x", HELLO_HASH)
    # Without length prefixes "ab" + "c" and "a" + "bc" could encode alike.
    assert directory_node_id("ab", [("c", child)]) != directory_node_id("a", [("bc", child)])
    assert directory_node_id("d", [("a", child), ("b", child)]) != directory_node_id(
        "d", [("ab", child)]
    )


def test_empty_directory_has_a_stable_id_distinct_from_a_file() -> None:
    empty = directory_node_id("e", [])
    assert empty == directory_node_id("e", [])
    assert empty != file_node_id("e", hash_bytes(b""))


def test_hash_file_streams_in_chunks_and_equals_the_one_shot_hash(tmp_path: Path) -> None:
    data = bytes(range(256)) * 20_000  # 5 MB, several chunks
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    seen: list[int] = []
    assert hash_file(path, buffer=bytearray(1 << 16), on_bytes=seen.append) == (
        blake3(data).hexdigest()
    )
    assert sum(seen) == len(data)
    assert max(seen) <= 1 << 16


def test_hash_file_refuses_to_read_through_a_symbolic_link(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"secret")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OSError):
        hash_file(link)
