"""Workspaces shaped like real projects, for the prompt budget tests.

`pygments_shape()` has what made prompts overflow on the real pygments sdist:
a directory of 250 modules, a module over 100 KB whose main class has
hundreds of methods, and nesting nine levels deep.
"""

from __future__ import annotations

LEXERS = "pkg/lexers"
LEXER_COUNT = 250
BIG_MODULE = "pkg/console.py"
BIG_CLASS = "Console"
METHOD_COUNT = 300
DEEP_FILE = "pkg/a/b/c/d/e/f/g/h/leaf.py"


def lexer_module(number: int) -> str:
    """A small module with a docstring, a class and a table, like a pygments lexer."""
    return (
        f'"""\n    pygments.lexers.lang{number:03d}\n    ~~~~~~~~~~~~~~~~~~~~~~~~\n\n'
        f"    Lexers for the language number {number}.\n\n"
        '    :license: BSD, see LICENSE for details.\n"""\n\n'
        f"import re\n\n__all__ = ['Lang{number:03d}Lexer']\n\n\n"
        f"class Lang{number:03d}Lexer:\n"
        f'    """Lexer for language {number}: keywords, strings and comments."""\n\n'
        f"    name = 'lang{number:03d}'\n"
        f"    aliases = ['l{number:03d}']\n"
        "    tokens = {\n"
        + "".join(f"        'state{s}': [(r'\\\\b{s}\\\\b', 'Keyword')],\n" for s in range(12))
        + "    }\n"
    )


def big_module() -> str:
    """A module of over 100 KB: a docstring, imports, and one large class."""
    methods = "".join(
        f"    def method_{n:03d}(self, value: int, *, strict: bool = False) -> int:\n"
        f'        """Step {n} of rendering: checks the value and returns it scaled."""\n'
        + "".join(f"        value = (value * {k} + {n}) % 1_000_003\n" for k in range(8))
        + "        if strict and value < 0:\n"
        f"            raise ValueError('step {n} needs a positive value')\n"
        "        return value\n\n"
        for n in range(METHOD_COUNT)
    )
    text = (
        '"""The console: renders text, tables and progress to a terminal."""\n\n'
        "from __future__ import annotations\n\nimport io\nimport sys\n\n\n"
        f"class {BIG_CLASS}:\n"
        '    """A high level console interface: write, print, log and render."""\n\n'
        "    def __init__(self, file: io.TextIOBase | None = None) -> None:\n"
        "        self.file = file or sys.stdout\n\n" + methods
    )
    assert len(text.encode()) > 100_000
    return text


def pygments_shape() -> dict[str, bytes | str]:
    """The files of a pygments-shaped workspace."""
    files: dict[str, bytes | str] = {
        "README.rst": "Shapes\n======\n\nA package shaped like pygments, for tests.\n",
        "pkg/__init__.py": '"""A syntax highlighting package."""\n',
        f"{LEXERS}/__init__.py": '"""Every lexer of the package."""\n',
        BIG_MODULE: big_module(),
        DEEP_FILE: '"""The deepest module."""\n\nDEPTH = 9\n',
    }
    for number in range(LEXER_COUNT - 1):  # with __init__.py: LEXER_COUNT children
        files[f"{LEXERS}/lang{number:03d}.py"] = lexer_module(number)
    return files


def directories(paths: list[str]) -> set[str]:
    """Every directory that holds one of `paths`, and the root (`.`)."""
    found = {"."}
    for path in paths:
        parts = path.split("/")[:-1]
        found |= {"/".join(parts[: n + 1]) for n in range(len(parts))}
    return found
