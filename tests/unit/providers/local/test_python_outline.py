"""The Python outline: signatures, classes, imports, constants, entry point, caps."""

from __future__ import annotations

import pytest

from tests.unit.providers.local.support import summarise_file

SAMPLE = '''"""Sample module for the outline.

More detail that is not part of the first paragraph.
"""

from __future__ import annotations

import asyncio
import os.path
from typing import Any

import httpx

from . import siblings
from ..core import engine
from pkg.models import Model

MAX_RETRIES = 3
TIMEOUT_S: float = 2.5
_PRIVATE_LIMIT = 10
lowercase_value = 1


class Base:
    """A base."""


class Worker(Base, metaclass=Meta):
    """Runs jobs.

    Not this line.
    """

    name: str
    retries: int = 0

    def __init__(self, name: str, /, retries: int = 0) -> None:
        """Make one."""

    async def run(self, *jobs: str, timeout_s: float | None = None, **extra: Any) -> list[str]:
        """Run the jobs."""
        return []

    @property
    def busy(self) -> bool:
        """Whether it works."""
        return False

    @busy.setter
    def busy(self, value: bool) -> None:
        pass

    @staticmethod
    def parse(raw: str) -> int:
        return int(raw)

    @classmethod
    def make(cls, name="w") -> Worker:
        return cls(name)

    def _helper(self) -> None:
        pass


async def fetch(url: str, *, retries: int = MAX_RETRIES) -> bytes:
    """Fetch one URL."""
    return b""


def _internal() -> None:
    pass


if __name__ == "__main__":
    asyncio.run(fetch("x"))
'''


def test_the_summary_line_is_the_docstrings_first_paragraph() -> None:
    lines = summarise_file("pkg/sample/worker.py", SAMPLE).splitlines()
    assert lines[2] == "Sample module for the outline."
    assert lines[4] == (
        "Python module, 75 lines: 2 classes, 2 functions, 3 constants. "
        'Runs as a script: `if __name__ == "__main__"` calls `asyncio.run`, `fetch`.'
    )


def test_imports_are_grouped_by_origin_and_sorted() -> None:
    summary = summarise_file("pkg/sample/worker.py", SAMPLE)
    assert "- standard library: `asyncio`, `os.path`, `typing`" in summary
    assert "- third-party: `httpx`" in summary
    assert "- local: `..core`, `.siblings`, `pkg.models`" in summary
    assert "__future__" not in summary


def test_classes_show_bases_fields_and_public_methods_with_signatures() -> None:
    summary = summarise_file("pkg/sample/worker.py", SAMPLE)
    expected = [
        "- `Base` — A base.",
        "- `Worker(Base, metaclass=Meta)` — Runs jobs.",
        "  - fields: `name: str`, `retries: int`",
        "  - `__init__(name: str, /, retries: int = 0) -> None` — Make one.",
        "  - `async run(*jobs: str, timeout_s: float | None = None, **extra: Any) -> list[str]`"
        " — Run the jobs.",
        "  - `busy: bool` (property) — Whether it works.",
        "  - `parse(raw: str) -> int`",
        "  - `@classmethod` `make(name='w') -> Worker`",
        "  - private: `_helper`",
    ]
    lines = summary.splitlines()
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected


def test_functions_show_async_defaults_and_docstrings_then_private_names() -> None:
    summary = summarise_file("pkg/sample/worker.py", SAMPLE)
    assert (
        "- `async fetch(url: str, *, retries: int = MAX_RETRIES) -> bytes` — Fetch one URL."
    ) in summary
    assert "- private: `_internal`" in summary


def test_constants_are_upper_case_assignments_with_values() -> None:
    summary = summarise_file("pkg/sample/worker.py", SAMPLE)
    constants = summary.split("## Constants\n\n")[1].split("\n\n")[0].splitlines()
    assert constants == [
        "- `MAX_RETRIES = 3`",
        "- `TIMEOUT_S: float = 2.5`",
        "- private: `_PRIVATE_LIMIT`",
    ]


def test_a_module_without_docstring_is_summarised_by_what_it_defines() -> None:
    text = "class A:\n    pass\n\n\ndef b():\n    pass\n\n\ndef _c():\n    pass\n"
    lines = summarise_file("x/mod.py", text).splitlines()
    assert lines[2] == "Defines classes `A` and functions `b`."


def test_a_module_without_docstring_is_summarised_by_its_opening_comment() -> None:
    text = (
        "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n"
        "# Copyright 2020 The Authors. All rights reserved.\n#\n"
        "# Width tables for the terminal, generated from the Unicode data.\n\nimport re\n"
    )
    lines = summarise_file("x/cells.py", text).splitlines()
    assert lines[2] == "Width tables for the terminal, generated from the Unicode data."


def test_the_definitions_a_cut_listed_by_name_are_named_in_the_summary() -> None:
    # What the prompt's cut sends of a module whose signatures alone are too long.
    listed = "".join(
        f"# class Case{n}(ParserTestCase):\n#     def test(self):\n" for n in range(90)
    )
    text = (
        "import unittest\n\n\nclass Base:\n    pass\n"
        "# [... cut from line 6 of the outline; the definitions there (181 of 181 listed):\n"
        f"{listed}# def tearDownModule():\n"
        "[... truncated: the signatures alone are over the budget: their outline is listed;"
        " 188,182 bytes in all ...]\n"
    )
    summary = summarise_file("test/test_argparse.py", text)
    past = summary.split("## Past the cut\n\n")[1]
    names = ", ".join(f"`Case{n}`" for n in range(90))
    assert past.splitlines() == [f"- classes: {names}", "- functions: `tearDownModule`"]


def test_a_stack_of_decorators_leaves_room_for_the_name() -> None:
    # As the standard library's test/test_tools/test_freeze.py.
    decorators = "".join(
        f"@unittest.skipIf(sys.platform.startswith('win{n}'), 'not supported on this platform')\n"
        for n in range(4)
    )
    summary = summarise_file("test/test_freeze.py", f"{decorators}class TestFreeze:\n    pass\n")
    line = next(
        line for line in summary.splitlines() if line.startswith("- ") and "TestFreeze" in line
    )
    assert line.startswith("- `@unittest.skipIf(")
    assert "(and 2 more decorators) `TestFreeze`" in line


def test_a_script_names_each_callee_once() -> None:
    text = 'if __name__ == "__main__":\n    log(1)\n    log(2)\n    run()\n    log(3)\n'
    assert "calls `log`, `run`." in summarise_file("x/demo.py", text)


def test_the_largest_class_is_named_first() -> None:
    # As rich/console.py: small helpers come before the class the module is for.
    body = "".join(f"    def m{index}(self):\n        pass\n" for index in range(30))
    text = f"class NoChange:\n    pass\n\n\nclass Console:\n{body}\n\nclass Group:\n    x = 1\n"
    lines = summarise_file("x/console.py", text).splitlines()
    assert lines[2] == "Defines classes `Console`, `NoChange`, `Group`."


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ("def _a():\n    pass\n\n\ndef _b():\n    pass\n", "Defines private functions `_a`, `_b`."),
        ("import re\n\nNAMES = {}\n_SEEN: set = set()\n", "Defines constants `NAMES`, `_SEEN`."),
    ],
)
def test_a_module_of_private_functions_or_constants_still_says_what_it_defines(
    text: str, summary: str
) -> None:
    assert summarise_file("x/mod.py", text).splitlines()[2] == summary


def test_a_docstring_that_opens_with_the_module_name_is_summarised_by_what_follows() -> None:
    # As distutils: the dotted name stands where a title would.
    text = '"""distutils.archive_util\n\nUtility functions for creating archive files."""\n'
    lines = summarise_file("distutils/archive_util.py", text).splitlines()
    assert lines[2] == "Utility functions for creating archive files."


def test_a_member_docstring_gives_its_first_sentence_not_its_first_line() -> None:
    text = (
        "def decode(s):\n"
        '    """Return the Python representation of ``s`` (a ``str`` instance\n'
        '    containing a JSON document). More detail here.\n    """\n'
    )
    summary = summarise_file("json/decoder.py", text)
    assert (
        "- `decode(s)` — Return the Python representation of ``s`` (a ``str`` instance"
        " containing a JSON document)."
    ) in summary


def test_a_test_module_and_a_package_initialiser_are_named_as_such() -> None:
    assert "Python test module, 2 lines: 1 function." in summarise_file(
        "tests/test_x.py", "def test_x():\n    pass\n"
    )
    assert "Python package initialiser, 1 line." in summarise_file(
        "pkg/__init__.py", '"""The package."""\n'
    )


def test_exports_list_dunder_all() -> None:
    summary = summarise_file("pkg/__init__.py", '__all__ = ["a", "b"]\n')
    assert "- `__all__`: `a`, `b`" in summary


def test_past_the_cap_the_rest_are_named_in_one_line() -> None:
    text = "\n".join(f"def f{index}(x: int) -> int:\n    return x\n" for index in range(55))
    text += "\n@cache\ndef g(y):\n    pass\n\nLIMIT = 3\n"
    summary = summarise_file("pkg/many.py", text)
    assert "- `f39(x: int) -> int`" in summary
    assert "`f40(" not in summary
    rest = ", ".join(f"`f{index}`" for index in range(40, 55))
    assert f"- also: {rest}, `g`\n" in summary
    assert "`LIMIT = 3`" in summary


def test_past_the_cap_a_labelled_list_keeps_every_name() -> None:
    text = "\n".join(f"def f{index}():\n    pass\n" for index in range(40))
    text += "\n" + "\n".join(f"def _p{index}():\n    pass\n" for index in range(3))
    summary = summarise_file("pkg/many.py", text)
    assert "`_p0`, `_p1`, `_p2`" in summary


def test_invalid_escape_sequences_do_not_leak_warnings() -> None:
    # pytest turns warnings into errors here: a leaked SyntaxWarning fails the test.
    summary = summarise_file("pkg/regex.py", 'PATTERN = "\\d+"\n')
    assert "PATTERN" in summary


def test_a_docstring_of_only_white_space_is_no_summary_and_no_failure() -> None:
    # As in the standard library's test/test_code.py: the docstring is blank lines.
    text = 'def misshappen():\n    """\n\n\n    """\n    return 4\n\n\nclass Empty:\n    """ """\n'

    summary = summarise_file("pkg/shapes.py", text)

    assert "`misshappen()`" in summary
    assert "`Empty`" in summary
    assert "misshappen() —" not in summary
    assert "does not parse" not in summary and "outliner failed" not in summary


def test_a_paragraph_that_turns_into_a_licence_notice_is_no_summary() -> None:
    # As rich/_spinners.py: the credit runs straight into the MIT notice.
    text = (
        '"""\nSpinners are from:\n* cli-spinners:\n    MIT License\n'
        "    Copyright (c) Sindre Sorhus\n    Permission is hereby granted, free of charge.\n"
        '"""\n\nSPINNERS = {"dots": {}}\n'
    )
    lines = summarise_file("rich/_spinners.py", text).splitlines()
    assert lines[2] == "Defines constants `SPINNERS`."
