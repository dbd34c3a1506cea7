"""Freshness never lies, through the real command line.

- An edit without a scan: `get` says stale, and `generate` (which rescans
  first) writes the file and each of its ancestors again, nothing else.
- A child's frame regenerated or written by hand: its ancestors are stale,
  and `generate` writes exactly them again.
- `--replace-provider local` writes again exactly the heads `local` wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tests.support.cli import CliResult
from tests.support.files import backdate
from tests.support.generate_cli import TREE, TREE_NODES, generate_bench
from tests.support.llm_server import Reply

pytestmark = pytest.mark.timeout(120)
Merkle = Callable[..., CliResult]

EDITED = "src/sub/deep/e.py"
EDITED_AND_ANCESTORS = {"src/sub/deep/e.py", "src/sub/deep", "src/sub", "src", "."}


@pytest.fixture
def generated(tmp_path: Path, merkle: Merkle) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    write_tree(root, TREE)
    backdate(root, 60)  # a rescan trusts the stat cache of files older than the racy margin
    for command in (("init",), ("scan",), ("context", "generate")):
        assert merkle(*command, cwd=root).code == 0
    return root


def get(merkle: Merkle, root: Path, path: str) -> dict[str, Any]:
    result = merkle("context", "get", path, "--json", cwd=root)
    assert result.code == 0, result.stderr
    document: dict[str, Any] = result.json()
    return document


def frames(merkle: Merkle, root: Path) -> dict[str, str]:
    """The frame id `get` shows for every node."""
    return {path: get(merkle, root, path)["frame_id"] for path in TREE_NODES}


def regenerated(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {path for path in before if before[path] != after[path]}


def test_an_edit_without_a_scan_is_stale_and_generate_takes_it_in(
    generated: Path, merkle: Merkle
) -> None:
    before = frames(merkle, generated)
    (generated / EDITED).write_text("E = 50  # edited\n")

    stale = get(merkle, generated, EDITED)
    result = merkle("context", "generate", "--json", cwd=generated)

    assert stale["stale"] is True
    assert stale["stale_reason"] == "the file changed on disk since the last scan"
    assert result.code == 0, result.stderr
    assert result.json()["total_generated"] == len(EDITED_AND_ANCESTORS)
    assert regenerated(before, frames(merkle, generated)) == EDITED_AND_ANCESTORS
    assert get(merkle, generated, EDITED)["stale"] is False
    assert "E = 50" in get(merkle, generated, EDITED)["content"]


def test_no_scan_generates_from_the_last_scan(generated: Path, merkle: Merkle) -> None:
    (generated / EDITED).write_text("E = 50  # edited\n")

    result = merkle("context", "generate", "--no-scan", "--json", cwd=generated)

    assert result.code == 0 and result.json()["total_generated"] == 0
    assert get(merkle, generated, EDITED)["stale"] is True


def test_a_hand_written_child_frame_makes_its_ancestors_stale_and_generate_refreshes_them(
    generated: Path, merkle: Merkle
) -> None:
    before = frames(merkle, generated)
    (generated / "note.md").write_text("Holds the constant C, three.\n")
    assert merkle("context", "put", "src/sub/c.py", "--file", "note.md", cwd=generated).code == 0
    (generated / "note.md").unlink()

    parent = get(merkle, generated, "src/sub")
    result = merkle("context", "generate", "--json", cwd=generated)

    assert parent["stale"] is True
    assert parent["stale_reason"] == "the frame of its child c.py is newer"
    assert get(merkle, generated, "src/sub/deep")["stale"] is False
    assert result.code == 0, result.stderr
    # c.py has its new frame; its ancestors are written again from it.
    assert result.json()["total_generated"] == 3
    written = {"src/sub/c.py", "src/sub", "src", "."}
    assert regenerated(before, frames(merkle, generated)) == written
    assert all(not get(merkle, generated, path)["stale"] for path in TREE_NODES)
    again = merkle("context", "generate", "--json", cwd=generated)
    assert again.json()["total_generated"] == 0


def test_an_identical_regeneration_leaves_its_ancestors_fresh(
    generated: Path, merkle: Merkle
) -> None:
    before = frames(merkle, generated)

    assert merkle("context", "regenerate", "src/sub/c.py", cwd=generated).code == 0
    result = merkle("context", "generate", "--json", cwd=generated)

    assert frames(merkle, generated) == before  # the local provider wrote the same frame
    assert result.json()["total_generated"] == 0


def test_a_regenerated_child_makes_its_ancestors_stale_until_generate(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        bench.server.script(*(Reply.answer(f"note {index}") for index in range(40)))
        assert bench.run("context", "generate").code == 0
        assert bench.run("context", "regenerate", "src/sub/c.py").code == 0
        stale = bench.run("context", "get", "src/sub", "--json").json()
        calls_before = len(bench.server.calls())

        result = bench.run("context", "generate", "--json")
        fresh = [bench.run("context", "get", path, "--json").json() for path in TREE_NODES]

    assert stale["stale"] is True and "c.py" in stale["stale_reason"]
    assert result.json()["total_generated"] == 3
    assert sorted(bench.server.calls()[calls_before:]) == [".", "src", "src/sub"]
    assert not any(document["stale"] for document in fresh)


def test_replace_provider_writes_again_exactly_what_local_wrote(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        assert bench.run("context", "generate", "--provider", "local").code == 0
        assert bench.run("context", "generate", "docs", "--force").code == 0
        # docs' new frame makes the root stale: a plain generate refreshes it alone.
        plain = bench.run("context", "generate", "--json")
        assert bench.server.calls() == ["docs/guide.md", "docs", "."]
        calls_before = len(bench.server.calls())

        replaced = bench.run("context", "generate", "--replace-provider", "local", "--json")
        again = bench.run("context", "generate", "--replace-provider", "local", "--json")

    assert plain.json()["total_generated"] == 1
    assert replaced.code == 0, replaced.stderr
    local_written = set(TREE_NODES) - {"docs/guide.md", "docs", "."}
    # The root is written again too: it holds a child (src) that is written again.
    assert sorted(bench.server.calls()[calls_before:]) == sorted(local_written | {"."})
    assert replaced.json()["total_generated"] == len(local_written) + 1
    assert again.json()["total_generated"] == 0  # nothing local is left
