"""Directory summaries composed from children's frames."""

from __future__ import annotations

import re

import pytest

from merkle.providers.local.gist import first_meaningful_line
from merkle.providers.local.provider import CHARS_PER_TOKEN
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


def test_a_big_directory_names_every_child_when_the_lines_fit() -> None:
    said = "Parses one kind of record and hands it on. " * 3
    children = [(f"big/f{index:03}.txt", "file", f"{said}\n") for index in range(250)]
    summary = summarise_directory("big", children, max_tokens=8_000)
    assert len(summary) <= 8_000 * CHARS_PER_TOKEN
    assert all(f"- `f{index:03}.txt`: Parses" in summary for index in range(250))


def test_a_huge_directory_names_every_child_by_name_within_the_budget() -> None:
    children = [(f"big/f{index:04}.txt", "file", "A long line. " * 20) for index in range(400)]
    summary = summarise_directory("big", children, max_tokens=1_000)
    assert len(summary) <= 1_000 * CHARS_PER_TOKEN
    # The names lose the extension they all share, so that all 400 fit, in order.
    assert "Children (named without their `.txt`): `f0000`, `f0001`," in summary
    named = re.findall(r"`(f\d{4})`", summary)
    assert named == [f"f{index:04}" for index in range(400)]


def test_past_what_names_can_fit_the_last_are_counted_never_cut() -> None:
    children = [(f"big/f{index:04}.txt", "file", "A long line.") for index in range(400)]
    summary = summarise_directory("big", children, max_tokens=300)
    assert len(summary) <= 300 * CHARS_PER_TOKEN
    named = re.findall(r"`(f\d{4})`", summary)
    hidden = 400 - len(named)
    assert named == [f"f{index:04}" for index in range(len(named))]
    assert hidden > 0 and summary.rstrip().endswith(f"and {hidden} more children")


def test_a_small_budget_still_names_children_in_full() -> None:
    children = [(f"d/n{index}", "directory", "Sub.\n") for index in range(30)]
    summary = summarise_directory("d", children, max_tokens=60)
    assert len(summary) <= 60 * CHARS_PER_TOKEN
    assert re.findall(r"`(n\d+/)`", summary) == [
        f"n{i}/" for i in range(len(re.findall(r"`(n\d+/)`", summary)))
    ]
