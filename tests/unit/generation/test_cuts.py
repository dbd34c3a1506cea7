"""Cuts keep what matters: tried on real modules of the standard library."""

from __future__ import annotations

import ast
import re
import sysconfig
from pathlib import Path

import pytest

from merkle.context.generation.cuts import Fit, cut_to_fit
from merkle.providers.tokens import estimate_tokens

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ["argparse.py", "typing.py", "inspect.py", "dataclasses.py", "subprocess.py"]
MARKER = "[... truncated: "
LISTED = re.compile(r"^# \s*(?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)


def cut(text: str, tokens: int, path: str = "m.py", max_bytes: int = 1 << 30) -> str:
    return cut_to_fit(text, path=path, fit=Fit(tokens, max_bytes), total_bytes=len(text))


def top_level_names(tree: ast.Module) -> list[str]:
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]


def in_order(shown: list[str], original: list[str]) -> bool:
    """Whether every kept line is a line of the original, in the original's order
    (the stubs that stand for cut lines aside)."""
    position = 0
    for line in shown:
        if line.strip() == "..." or "[cut: " in line:
            continue
        try:
            position = original.index(line, position) + 1
        except ValueError:
            return False
    return True


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("tokens", [3_000, 8_000, 14_000])
def test_a_cut_module_still_parses_keeps_every_top_level_definition_in_order(
    module: str, tokens: int
) -> None:
    text = (STDLIB / module).read_text(encoding="utf-8")
    assert estimate_tokens(text) > tokens  # every one of them is cut

    result = cut(text, tokens)

    code, marker = result.rsplit("\n", 1)
    assert marker.startswith(MARKER)
    assert estimate_tokens(result) <= tokens
    shown = ast.parse(code)
    names = set(top_level_names(ast.parse(text)))
    if "of the outline; the definitions there" not in code:
        assert names <= set(top_level_names(shown))
        assert in_order(code.splitlines(), text.splitlines())
    else:
        # Not even the signatures fit: the head, then the rest's definitions listed
        # as far as they fit, in order.
        listed = LISTED.findall(code)
        count = re.search(r"of the outline; the definitions there \((\d+) of (\d+) listed", code)
        assert count is not None
        after_note = code[count.end() :].splitlines()[1:]
        assert int(count.group(1)) == len(after_note) == len(LISTED.findall("\n".join(after_note)))
        kept = set(top_level_names(shown)) | set(listed)
        if count.group(1) == count.group(2):
            assert names <= kept
        assert listed, "no room left for the outline"


def test_bodies_come_back_as_far_as_the_budget_allows() -> None:
    text = (STDLIB / "dataclasses.py").read_text(encoding="utf-8")
    original = set(text.splitlines())

    shown = {tokens: cut(text, tokens) for tokens in (4_000, 8_000, 12_000)}

    kept = [len(original & set(shown[tokens].splitlines())) for tokens in sorted(shown)]
    assert kept == sorted(kept) and kept[0] < kept[-1]
    assert all(estimate_tokens(shown[tokens]) <= tokens for tokens in shown)
    assert "lines of the body]" in shown[12_000]


def test_a_module_of_hundreds_of_methods_keeps_every_signature() -> None:
    methods = "".join(
        f"    def step_{n}(self, value: int) -> int:\n"
        f'        """Step {n}: checks the value and scales it."""\n'
        + "".join(f"        value = value * {k} + {n}\n" for k in range(8))
        + "        return value\n\n"
        for n in range(400)
    )
    text = '"""Steps."""\n\n\nclass Steps:\n    """All the steps."""\n\n' + methods

    result = cut(text, 9_000)

    code = result.rsplit("\n", 1)[0]
    ast.parse(code)
    assert all(f"def step_{n}(self, value: int) -> int:" in code for n in range(400))
    assert "function docstrings and bodies" in result


def test_a_table_on_one_line_is_cut_as_a_value_and_the_module_still_parses() -> None:
    # As pygments/lexers/_cocoa_builtins.py: 72 KB of names on one line.
    names = ", ".join(f"'Name{n}'" for n in range(8_000))
    text = (
        '"""Names used across the frameworks."""\n\nimport re\n\n'
        f"INTERFACES = {{{names}}}\nPROTOCOLS = {{'A', 'B'}}\n\n\n"
        "def parse(text):\n    return re.findall('x', text)\n"
    )

    result = cut(text, 2_000)

    code = result.rsplit("\n", 1)[0]
    ast.parse(code)
    assert "INTERFACES = ...  # [cut: a value of " in code
    assert "PROTOCOLS = {'A', 'B'}" in code and "def parse(text):" in code
    assert '"""Names used across the frameworks."""' in code


def test_a_class_table_is_cut_so_every_class_of_a_lexer_module_is_kept() -> None:
    # As pygments/lexers/jvm.py: each class holds a `tokens` table of many lines.
    rows = "".join(f"            (r'pattern{n}', Token.Name),\n" for n in range(120))
    classes = "".join(
        f"class Lexer{k}(RegexLexer):\n    name = 'L{k}'\n    aliases = ['l{k}']\n\n"
        f"    tokens = {{\n        'root': [\n{rows}        ],\n    }}\n\n\n"
        for k in range(17)
    )

    result = cut('"""Lexers."""\n\n\n' + classes, 6_000)

    code = result.rsplit("\n", 1)[0]
    ast.parse(code)
    for k in range(17):
        assert f"class Lexer{k}(RegexLexer):\n    name = 'L{k}'\n    aliases = ['l{k}']" in code
    assert "    tokens = ...  # [cut: a value of 124 lines]" in code


def test_text_that_is_not_python_keeps_its_head_and_lists_the_rest() -> None:
    text = "# Guide\n\n" + "".join(
        f"## Section {n}\n\n" + "Some prose about it. " * 40 + "\n\n" for n in range(60)
    )

    result = cut(text, 1_500, path="guide.md")

    assert result.startswith("# Guide\n\n## Section 0\n")
    assert "## Section 59" in result  # listed, though its text is cut
    assert result.rsplit("\n", 1)[1].startswith(MARKER)
    assert estimate_tokens(result) <= 1_500


def test_the_head_of_a_larger_file_is_not_outlined_as_python() -> None:
    text = "def whole():\n    return 1\n" * 200

    result = cut_to_fit(
        text, path="m.py", fit=Fit(200, 1 << 20), total_bytes=10 * len(text), complete=False
    )

    assert "lines of the body]" not in result
    assert f"{10 * len(text):,} bytes in all" in result
