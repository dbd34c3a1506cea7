"""The first line of a summary is a sentence of prose, never markup or a notice.

A directory's summary quotes that line for each child, so a title underline,
a badge bar, a link bar, a field list or a licence line there would be
repeated up the whole tree.
"""

from __future__ import annotations

import pytest

from merkle.providers.local.prose import docstring_summary
from tests.unit.providers.local.support import summarise_file

PYGMENTS_MODULE = '''"""
    pygments.lexers.python
    ~~~~~~~~~~~~~~~~~~~~~~

    Lexers for Python and related languages.

    :copyright: Copyright 2006-2025 by the Pygments team, see AUTHORS.
    :license: BSD, see LICENSE for details.
"""

import keyword


class PythonLexer:
    """For Python source code."""
'''

README = """[![build](https://ci.example.com/badge.svg)](https://ci.example.com)
[![PyPI](https://img.shields.io/pypi/v/tool.svg)](https://pypi.org/project/tool/)

![Logo](docs/logo.svg)

# Tool

[English](README.md) • [Deutsch](README.de.md) • [日本語](README.ja.md)

Tool turns *messy* logs into `structured` events, [fast](docs/speed.md).

## Install

```sh
pip install tool
```

## Licence

Released under the MIT License.
"""

RST_README = """.. image:: https://ci.example.com/badge.svg
   :target: https://ci.example.com

==========
 Frobnicate
==========

:copyright: 2024 The Frobnicate authors
:license: MIT

Frobnicate reads **any** archive and lists ``what`` is `inside <https://x.example>`_.

Usage
-----

Run it::

    frob --help

.. code-block:: sh

   frob archive.zip

Details
~~~~~~~

More.
"""


def test_a_pygments_style_docstring_is_summarised_by_its_prose_not_its_title() -> None:
    summary = summarise_file("pygments/lexers/python.py", PYGMENTS_MODULE)
    assert summary.splitlines()[2] == "Lexers for Python and related languages."
    assert "~~~" not in summary
    assert "copyright" not in summary.lower()


def test_a_readme_skips_badges_images_and_link_bars_for_its_first_sentence() -> None:
    summary = summarise_file("README.md", README)
    lines = summary.splitlines()
    assert lines[2] == "Tool turns messy logs into `structured` events, fast."
    assert lines[4] == "Markdown document titled `Tool`, 20 lines, 3 headings, 1 code block."
    assert "## Headings\n\n- Install\n- Licence\n" in summary


def test_a_restructuredtext_document_gives_its_title_headings_and_first_prose() -> None:
    summary = summarise_file("README.rst", RST_README)
    lines = summary.splitlines()
    assert lines[2] == "Frobnicate reads any archive and lists `what` is inside."
    assert lines[4] == (
        "reStructuredText document titled `Frobnicate`, 27 lines, 3 headings, 2 code blocks."
    )
    assert "## Headings\n\n- Usage\n  - Details\n" in summary


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Title\n=====\n\nThe prose.", "The prose.", id="underlined-title"),
        pytest.param("=====\nTitle\n=====\nThe prose.", "The prose.", id="overlined-title"),
        pytest.param("Copyright 2024 A.\n\nThe prose.", "The prose.", id="copyright"),
        pytest.param("SPDX-License-Identifier: MIT\n\nThe prose.", "The prose.", id="spdx"),
        pytest.param("MIT License\n\nThe prose.", "The prose.", id="licence-name"),
        pytest.param(":author: Me\n:license: BSD\n\nThe prose.", "The prose.", id="fields"),
        pytest.param("-*- coding: utf-8 -*-\n\nThe prose.", "The prose.", id="directive"),
        pytest.param("# Heading\nThe prose.", "The prose.", id="markdown-heading"),
        pytest.param("~~~~~\n\n----\n", None, id="only-adornments"),
        pytest.param("Line one\nline two.\n\nNext.", "Line one line two.", id="joined-lines"),
    ],
)
def test_the_summary_paragraph_is_the_first_one_of_prose(text: str, expected: str | None) -> None:
    assert docstring_summary(text) == expected


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        pytest.param(
            "src/util.go",
            "// Copyright 2024 The Authors. All rights reserved.\n"
            "// Use of this source code is governed by a BSD-style license.\n\n"
            "// Package util holds helpers.\npackage util\n",
            "Package util holds helpers.",
            id="go-licence-header",
        ),
        pytest.param(
            "lib/x.rb",
            "# frozen_string_literal: true\n\n# Parses dates.\nmodule X; end\n",
            "Parses dates.",
            id="ruby-magic-comment",
        ),
        pytest.param(
            "web/x.js",
            "'use strict';\n/* eslint-disable no-console */\n/** Logs requests. */\n",
            "Logs requests.",
            id="js-directives",
        ),
        pytest.param(
            "bin/run.sh",
            "#!/bin/sh\n# Runs the server.\nexec server\n",
            "Runs the server.",
            id="shebang",
        ),
    ],
)
def test_a_header_comment_skips_licences_and_tool_directives(
    path: str, text: str, expected: str
) -> None:
    assert summarise_file(path, text).splitlines()[2] == expected
