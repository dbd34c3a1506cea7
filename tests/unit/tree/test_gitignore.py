"""Git's ignore patterns, one line at a time, as git matches them."""

from __future__ import annotations

import pytest

from merkle.tree.gitignore import InvalidPattern, decide, parse_pattern


def matches(line: str, path: str, *, is_dir: bool = False) -> bool:
    pattern = parse_pattern(line)
    assert pattern is not None
    return pattern.matches(path, is_dir=is_dir)


@pytest.mark.parametrize("line", ["", "   ", "# a comment", "\n"])
def test_blank_lines_and_comments_are_no_pattern(line: str) -> None:
    assert parse_pattern(line) is None


def test_a_name_pattern_matches_at_any_depth_and_a_slash_anchors_it() -> None:
    assert matches("*.py", "a.py") and matches("*.py", "src/deep/a.py")
    assert matches("/a.py", "a.py") and not matches("/a.py", "src/a.py")
    assert matches("src/*.py", "src/a.py") and not matches("src/*.py", "src/deep/a.py")


def test_a_trailing_slash_matches_directories_only() -> None:
    assert matches("build/", "build", is_dir=True)
    assert not matches("build/", "build", is_dir=False)
    assert matches("*/", "src", is_dir=True) and not matches("*/", "a.py")


def test_double_stars_match_any_number_of_directories() -> None:
    assert matches("**/deep", "deep") and matches("**/deep", "a/b/deep")
    assert matches("a/**/b", "a/b") and matches("a/**/b", "a/x/y/b")
    assert matches("a/**", "a/x/y") and not matches("a/**", "a", is_dir=True)
    assert not matches("a/**/b", "xa/b")


def test_classes_wildcards_and_escapes() -> None:
    assert matches("[a-c].py", "b.py") and not matches("[a-c].py", "d.py")
    assert matches("[!a].py", "b.py") and not matches("[!a].py", "a.py")
    assert matches("?.py", "a.py") and not matches("?.py", "ab.py")
    assert matches("\\#notes", "#notes") and matches("\\!bang", "!bang")
    assert matches("[a", "[a")  # an unclosed class is a literal `[`


def test_trailing_spaces_are_dropped_unless_escaped() -> None:
    assert matches("a.txt   ", "a.txt")
    assert matches("b.txt\\ ", "b.txt ") and not matches("b.txt\\ ", "b.txt")


def test_the_last_matching_pattern_decides() -> None:
    patterns = [p for p in map(parse_pattern, ["*", "!*/", "!*.py", "secret.py"]) if p]
    assert decide(patterns, "src", is_dir=True) is False
    assert decide(patterns, "src/a.py", is_dir=False) is False
    assert decide(patterns, "src/a.txt", is_dir=False) is True
    assert decide(patterns, "secret.py", is_dir=False) is True
    assert decide([], "a", is_dir=False) is None


@pytest.mark.parametrize("line", ["[z-a].py", "!", "/"])
def test_a_pattern_git_cannot_use_is_invalid(line: str) -> None:
    with pytest.raises(InvalidPattern):
        parse_pattern(line)
