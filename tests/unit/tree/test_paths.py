"""Canonical workspace paths (ARCHITECTURE section 3)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from merkle.errors import PathOutsideWorkspace
from merkle.tree.paths import canonicalise, depth_of, join, name_of, parent_of


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (".", "."),
        ("src", "src"),
        ("src/", "src"),
        ("./src/./a.py", "src/a.py"),
        ("src/../docs/x.md", "docs/x.md"),
    ],
)
def test_relative_paths_from_the_root_are_canonical(
    tmp_path: Path, given: str, expected: str
) -> None:
    assert canonicalise(tmp_path, given, cwd=tmp_path) == expected


def test_paths_relative_to_a_subdirectory_and_absolute_paths(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    assert canonicalise(tmp_path, "a.py", cwd=tmp_path / "src") == "src/a.py"
    assert canonicalise(tmp_path, "..", cwd=tmp_path / "src") == "."
    assert canonicalise(tmp_path, tmp_path / "src" / "a.py", cwd=Path("/")) == "src/a.py"


def test_names_are_nfc_normalised(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "café.md")
    assert canonicalise(tmp_path, decomposed, cwd=tmp_path) == unicodedata.normalize(
        "NFC", "café.md"
    )


@pytest.mark.parametrize("given", ["..", "../other", "/etc/passwd"])
def test_paths_outside_the_workspace_are_refused_with_a_hint(tmp_path: Path, given: str) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    with pytest.raises(PathOutsideWorkspace) as caught:
        canonicalise(root, given, cwd=root)
    assert caught.value.hint
    assert caught.value.exit_code == 2


def test_a_workspace_reached_through_a_link_is_recognised(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "src").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    assert canonicalise(real, "a.py", cwd=link / "src") == "src/a.py"


def test_path_helpers() -> None:
    assert join(".", "a") == "a"
    assert join("a", "b") == "a/b"
    assert parent_of("a/b/c") == "a/b"
    assert parent_of("a") == "."
    assert parent_of(".") is None
    assert name_of("a/b/c") == "c"
    assert depth_of(".") == 0
    assert depth_of("a/b") == 2
