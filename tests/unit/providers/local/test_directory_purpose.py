"""Directory summaries open with what the directory is for, then name every child.

The child frames here are the local provider's own, written from real files
(this project's, and excerpts of Pygments and Rich), as generation would
send them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from merkle.providers.local.gist import read_gist
from merkle.providers.local.provider import CHARS_PER_TOKEN, DEFAULT_MAX_TOKENS
from tests.unit.providers.local.support import summarise_directory, summarise_file

ROOT = Path(__file__).resolve().parents[4]
# What the prompt builder sends for a child whose frame does not fit.
LEFT_OUT = "(its context is left out to fit the prompt)"

RICH_README = """\
[![Supported Python Versions](https://img.shields.io/pypi/pyversions/rich)](https://pypi.org/project/rich/)
[![PyPI version](https://badge.fury.io/py/rich.svg)](https://badge.fury.io/py/rich)

![Logo](https://github.com/textualize/rich/raw/master/imgs/logo.svg)

[English readme](https://github.com/textualize/rich/blob/master/README.md)
 • [简体中文 readme](https://github.com/textualize/rich/blob/master/README.cn.md)
 • [Deutsche readme](https://github.com/textualize/rich/blob/master/README.de.md)

Rich is a Python library for _rich_ text and beautiful formatting in the terminal.

The [Rich API](https://rich.readthedocs.io/en/latest/) makes it easy to add color and style
to terminal output.

## Compatibility

Rich works with Linux, macOS and Windows.
"""

PYGMENTS_README = """\
Welcome to Pygments
===================

This is the source of Pygments.  It is a **generic syntax highlighter** written
in Python that supports over 500 languages and text formats, for use in code
hosting, forums, wikis or other applications that need to prettify source code.

Installing
----------

... works as usual, use ``pip install Pygments`` to get published versions,
or ``pip install -e .`` to install from a checkout in editable mode.
"""

_LEXER = '''\
"""
    pygments.lexers.{name}
    ~~~~~~~~~~~~~~~~~~~~~~

    {summary}

    :copyright: Copyright 2006-present by the Pygments team, see AUTHORS.
    :license: BSD, see LICENSE for details.
"""

from pygments.lexer import RegexLexer

__all__ = ["{title}Lexer"]


class {title}Lexer(RegexLexer):
    """For {title} source code."""

    name = "{title}"
    tokens = {{"root": []}}
'''

LEXERS = {
    "python": "Lexers for Python and related languages.",
    "ruby": "Lexers for Ruby and related languages.",
    "rust": "Lexers for the Rust language.",
    "haskell": "Lexers for Haskell and related languages.",
    "shell": "Lexers for various shells.",
    "sql": "Lexers for various SQL dialects and related interactive sessions.",
}


def _file(path: str, text: str) -> tuple[str, str, str]:
    return (path, "file", summarise_file(path, text))


def _project(path: str) -> tuple[str, str, str]:
    return _file(path, (ROOT / path).read_text(encoding="utf-8"))


def _lexer(directory: str, name: str, summary: str) -> tuple[str, str, str]:
    text = _LEXER.format(name=name, summary=summary, title=name.title())
    return _file(f"{directory}/{name}.py", text)


def _purpose(summary: str) -> str:
    """The paragraph after the directory's heading."""
    return summary.split("\n\n")[1]


def test_a_readme_states_the_purpose_past_its_badges_logo_and_language_bar() -> None:
    children = [
        _file("rich/README.md", RICH_README),
        _file("rich/__init__.py", '"""Rich text and beautiful formatting in the terminal."""\n'),
        _file("rich/py.typed", ""),
    ]
    summary = summarise_directory("rich", children)

    assert summary.startswith(
        "# `rich/`\n\nRich is a Python library for rich text and beautiful formatting"
        " in the terminal.\n\n"
    )
    assert "- `__init__.py`: Rich text and beautiful formatting in the terminal." in summary


def test_a_restructuredtext_readme_gives_its_first_two_sentences_past_its_title() -> None:
    children = [_file("README.rst", PYGMENTS_README), _file("tox.ini", "[tox]\nenvlist = py\n")]
    summary = summarise_directory(".", children)

    # The first sentence says little alone, so the one after it comes too.
    assert _purpose(summary) == (
        "This is the source of Pygments. It is a generic syntax highlighter written in Python"
        " that supports over 500 languages and text formats, for use in code hosting, forums,"
        " wikis or other applications that need to prettify source code."
    )
    assert "Welcome" not in _purpose(summary)
    assert "- `README.rst`: This is the source of Pygments.\n" in summary


def test_this_projects_readme_opens_the_frame_of_its_root() -> None:
    summary = summarise_directory(".", [_project("README.md"), _project("pyproject.toml")])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_paragraph = " ".join(readme.split("\n\n")[1].split())

    assert _purpose(summary) == first_paragraph.split(". ")[0].rstrip(".") + "."


def test_a_package_docstring_states_the_purpose_when_there_is_no_readme() -> None:
    tree = ROOT / "src/merkle/tree"
    children = [_project(f"src/merkle/tree/{path.name}") for path in sorted(tree.glob("*.py"))]
    summary = summarise_directory("src/merkle/tree", children)

    assert _purpose(summary) == (
        "The workspace's Merkle tree: canonical paths, hashing, the walker, the builder and"
        " the import map."
    )
    files = len(children)
    assert summary.splitlines()[4] == f"Holds {files} files; mainly Python ({files})."
    assert "- `hashing.py`: BLAKE3 content hashes and NodeIDs." in summary


def test_a_docstring_under_a_restructuredtext_title_is_read_past_the_title() -> None:
    init = '"""\n    pygments.lexers\n    ~~~~~~~~~~~~~~~\n\n    Pygments lexers.\n"""\n'
    children = [
        _file("lexers/__init__.py", init),
        *(_lexer("lexers", name, said) for name, said in LEXERS.items()),
    ]
    summary = summarise_directory("lexers", children)

    # A short docstring is followed by what the modules share.
    assert _purpose(summary) == (
        "Pygments lexers. Lexers for Python, Ruby, the Rust language, Haskell and 2 more."
    )


def test_without_readme_or_docstring_the_purpose_is_what_the_children_share() -> None:
    children = [
        _file("lexers/__init__.py", ""),
        *(_lexer("lexers", name, said) for name, said in LEXERS.items()),
    ]
    summary = summarise_directory("lexers", children)
    purpose = _purpose(summary)

    assert purpose == "Lexers for Python, Ruby, the Rust language, Haskell and 2 more."
    # Every word of it is a child's own.
    frames = " ".join(frame for _, _, frame in children)
    assert all(word in frames for word in re.findall(r"\w+", purpose) if word != "more")
    for name, said in LEXERS.items():
        assert f"- `{name}.py`: {said}" in summary


def test_without_a_shared_opening_the_subdirectories_purposes_are_quoted() -> None:
    tree = summarise_directory(
        "src/merkle/tree",
        [_project(f"src/merkle/tree/{name}") for name in ("__init__.py", "hashing.py")],
    )
    children = [
        _project("src/merkle/errors.py"),
        _project("src/merkle/app.py"),
        ("src/merkle/tree", "directory", tree),
    ]
    summary = summarise_directory("src/merkle", children)

    assert _purpose(summary) == (
        "Includes `tree/` (The workspace's Merkle tree: canonical paths, hashing, the walker,"
        " the builder and the import map)."
    )


def test_without_a_subdirectory_the_files_with_most_to_say_are_quoted() -> None:
    names = ("builder.py", "gitignore.py", "hashing.py", "paths.py", "walker.py")
    children = [_project(f"src/merkle/tree/{name}") for name in names]
    summary = summarise_directory("src/merkle/tree", children)
    quoted = re.findall(r"`([\w.]+)` \(([^)]+(?:\([^)]*\)[^)]*)*)\)", _purpose(summary))

    assert _purpose(summary).startswith("Includes ")
    assert len(quoted) == 3
    for name, said in quoted:
        # Each quote is that child's own first sentence.
        assert f"- `{name}`: {said}." in summary


def test_when_no_child_says_what_it_is_for_neither_does_the_directory() -> None:
    children = [
        _file("data/colours.json", '{"red": "#f00", "green": "#0f0"}\n'),
        _file("data/sizes.csv", "name,width\nsmall,10\nlarge,20\n"),
        _file("data/empty.txt", ""),
    ]
    summary = summarise_directory("data", children)

    assert summary.splitlines()[2] == "Holds 3 files; mainly CSV (1), JSON (1), Text (1)."
    assert "- `colours.json`: JSON object with 2 top-level keys, 1 line." in summary


def test_250_children_are_all_named_in_path_order_within_the_default_budget() -> None:
    children = [
        _lexer("lexers", f"lang{index:03}", f"Lexers for Lang{index:03} and its dialects.")
        for index in range(250)
    ]
    summary = summarise_directory("lexers", children)

    assert len(summary) <= DEFAULT_MAX_TOKENS * CHARS_PER_TOKEN
    assert "[... cut at max_tokens]" not in summary
    assert _purpose(summary).startswith("Lexers for Lang000, Lang001, Lang002, Lang003 and")
    named = re.findall(r"`(lang\d{3})(?:\.py)?`", summary.split("\n\n", 3)[3])
    assert named == [f"lang{index:03}" for index in range(250)]


def test_a_child_left_out_of_the_prompt_is_named_without_a_purpose() -> None:
    hashing = _project("src/merkle/tree/hashing.py")
    children = [
        ("src/merkle/tree/builder.py", "file", LEFT_OUT),
        hashing,
        # The prompt builder's shorter forms: a frame's first paragraph, or its
        # first sentence cut with an ellipsis.
        ("src/merkle/tree/paths.py", "file", "Canonical workspace paths: relative, POSIX."),
        ("src/merkle/tree/walker.py", "file", "The walk: which files and directories make…"),
    ]
    summary = summarise_directory("src/merkle/tree", children)
    lines = summary.splitlines()

    assert "- `builder.py`" in lines
    assert "left out" not in summary
    assert "- `paths.py`: Canonical workspace paths: relative, POSIX." in lines
    assert "- `walker.py`: The walk: which files and directories make…" in lines
    assert not _purpose(summary).count("builder")


def test_a_nested_directory_gives_its_purpose_to_its_parent() -> None:
    tree = summarise_directory(
        "src/merkle/tree",
        [_project(f"src/merkle/tree/{name}") for name in ("__init__.py", "walker.py")],
    )
    providers = summarise_directory(
        "src/merkle/providers",
        [_project("src/merkle/providers/__init__.py"), _project("src/merkle/providers/base.py")],
    )
    summary = summarise_directory(
        "src/merkle",
        [
            _project("src/merkle/__init__.py"),
            ("src/merkle/providers", "directory", providers),
            ("src/merkle/tree", "directory", tree),
        ],
    )

    assert _purpose(summary).startswith("merkle: always-fresh, LLM-written context")
    assert (
        "- `providers/`: LLM providers: the protocol, its error classes, the clients and"
        " their registry."
    ) in summary
    assert (
        "- `tree/`: The workspace's Merkle tree: canonical paths, hashing, the walker, the"
        " builder and the import map."
    ) in summary


def test_a_redacted_secret_is_quoted_as_it_came() -> None:
    readme = "# Deploy\n\nPushes builds with the key [REDACTED] to the mirror.\n"
    summary = summarise_directory("deploy", [_file("deploy/README.md", readme)])

    assert _purpose(summary) == "Pushes builds with the key [REDACTED] to the mirror."


@pytest.mark.parametrize(
    ("frame", "purpose"),
    [
        pytest.param(
            "# `queue/`\n\n## Purpose\n\nRuns generation requests in priority order.\n",
            "Runs generation requests in priority order.",
            id="another-providers-purpose-section",
        ),
        pytest.param(
            "# `README.md`\n\n[English readme](https://x.io/README.md) • [Deutsche readme]"
            "(https://x.io/README.de....\n\nMarkdown document titled `Rich`, 445 lines.\n",
            None,
            id="a-language-bar-cut-inside-a-link",
        ),
        pytest.param(
            "# `LICENSE`\n\nCopyright (c) 2020 Will McGugan\n\nText file, 19 lines.\n",
            None,
            id="a-copyright-line",
        ),
        pytest.param(
            "# `pkg/__init__.py`\n\npkg.sub ~~~~~~~\n\nPython package initialiser, 9 lines.\n",
            None,
            id="a-title-run-into-its-underline",
        ),
        pytest.param(LEFT_OUT, None, id="left-out"),
    ],
)
def test_the_purpose_of_a_frame_is_prose_it_states(frame: str, purpose: str | None) -> None:
    assert read_gist(frame).purpose == purpose
