"""Directory summaries composed from children's frames."""

from __future__ import annotations

import pytest

from merkle.providers.local.directory import MAX_CHILDREN, first_meaningful_line
from tests.unit.providers.local.support import summarise_directory


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param("# Title\n\nFirst line. Second.\n", "First line.", id="skips-heading"),
        pytest.param(
            "```\ncode = 1\n```\n- **Parses** the config, e.g. TOML files. More.\n",
            "Parses the config, e.g. TOML files.",
            id="skips-fence-markers-and-emphasis",
        ),
        pytest.param("---\n| a | b |\n> Quoted summary\n", "Quoted summary", id="skips-rule-table"),
        pytest.param("# Only a heading\n", None, id="nothing-meaningful"),
    ],
)
def test_the_first_meaningful_line_skips_structure(frame: str, expected: str | None) -> None:
    assert first_meaningful_line(frame) == expected


def test_contents_line_counts_files_directories_and_ranks_languages() -> None:
    summary = summarise_directory(
        "pkg",
        [
            ("pkg/a.py", "file", "# a\n\nA.\n"),
            ("pkg/b.py", "file", "# b\n\nB.\n"),
            ("pkg/c.md", "file", "# c\n\nC.\n"),
            ("pkg/d.zz", "file", "# d\n\nD.\n"),
            ("pkg/sub", "directory", "# sub\n\nSub.\n"),
            ("pkg/tests", "directory", ""),
        ],
    )
    lines = summary.splitlines()
    assert lines[2] == (
        "Holds 4 files and 2 subdirectories; mainly Python (2), Markdown (1), other (1)."
    )
    assert lines[4:] == [
        "- `a.py`: A.",
        "- `b.py`: B.",
        "- `c.md`: C.",
        "- `d.zz`: D.",
        "- `sub/`: Sub.",
        "- `tests/`: (its context is empty)",
    ]


def test_a_huge_directory_is_capped() -> None:
    children = [(f"big/f{index:03}.txt", "file", "x\n") for index in range(MAX_CHILDREN + 5)]
    summary = summarise_directory("big", children)
    assert "- `f079.txt`: x" in summary
    assert "f080.txt" not in summary
    assert summary.endswith("- and 5 more children\n")
