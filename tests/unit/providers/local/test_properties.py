"""Whatever text arrives, the local provider answers, the same way every time."""

from __future__ import annotations

import keyword

from hypothesis import given, settings
from hypothesis import strategies as st

from merkle.providers.local.provider import summarise
from merkle.providers.payload import child_block, file_block

NAMES = [
    "a.py", "a.md", "a.json", "a.toml", "a.yaml", "a.ini", "a.csv", "a.ts", "a.go", "a.rs",
    "A.java", "a.kt", "a.h", "a.sh", "a.sql", "a.txt", "a.bin", "Makefile", "Dockerfile", "noext",
]  # fmt: skip

# Text made of the characters declarations and markup are built from, so the
# outliners' patterns get exercised rather than skipped.
SOURCE_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXY_019 \t\n:;=(){}[]<>*&#/-.,'\"`|!@\\")) | st.characters(),
    max_size=400,
)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(NAMES), text=SOURCE_TEXT)
def test_any_file_text_gets_a_deterministic_bounded_summary(name: str, text: str) -> None:
    path = f"dir/{name}"
    first = summarise(file_block(path, text))
    assert first == summarise(file_block(path, text))
    assert first.startswith(f"# `{path}`\n\n")
    assert len(first) < 20_000


@settings(max_examples=60, deadline=None)
@given(frames=st.lists(SOURCE_TEXT, min_size=1, max_size=5))
def test_any_child_frames_compose_a_summary_naming_every_child(frames: list[str]) -> None:
    blocks = "\n".join(
        child_block(f"dir/c{index}.py", frame, node_type="file")
        for index, frame in enumerate(frames)
    )
    summary = summarise(blocks)
    for index in range(len(frames)):
        assert f"- `c{index}.py`: " in summary


# Python that parses, built from the shapes real modules have, with docstrings of
# any text (blank ones included), so the Python outliner itself is exercised.
_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name) and not keyword.iskeyword(name.upper())
)
_DOC = st.text(alphabet=st.sampled_from(list("ab \t\n=~-#*`.")), max_size=40).map(
    lambda text: '"""' + text.replace("\\", "") + ' """'
)


@st.composite
def _statement(draw: st.DrawFn) -> str:
    name = draw(_IDENT)
    doc = draw(_DOC)
    kind = draw(st.sampled_from(["def", "async", "class", "const", "import", "annotated", "main"]))
    if kind in ("def", "async"):
        decorator = draw(st.sampled_from(["", "@property\n", "@staticmethod\n", "@deco(1)\n"]))
        prefix = "async " if kind == "async" else ""
        args = draw(st.sampled_from(["", "self", "a, b=1, *c, d: int = 2, **e", "x, /, y"]))
        return f"{decorator}{prefix}def {name}({args}) -> int:\n    {doc}\n    return 1\n"
    if kind == "class":
        bases = draw(st.sampled_from(["", "(Base)", "(A, metaclass=M)", "(NamedTuple)"]))
        return f"class {name}{bases}:\n    {doc}\n    x: int = 1\n    def m(self):\n        {doc}\n"
    if kind == "const":
        return f"{name.upper()} = {draw(st.sampled_from(['1', repr('s'), '[1, 2]', 'f(x)']))}\n"
    if kind == "annotated":
        return f"{name}: dict[str, int] = {{}}\n"
    if kind == "import":
        return draw(
            st.sampled_from(["import os\n", "from . import sibling\n", "import a.b as c\n"])
        )
    return 'if __name__ == "__main__":\n    main()\n'


@settings(max_examples=150, deadline=None)
@given(module_doc=st.one_of(st.just(""), _DOC), statements=st.lists(_statement(), max_size=8))
def test_any_parsable_python_is_outlined_by_the_python_outliner(
    module_doc: str, statements: list[str]
) -> None:
    text = (module_doc + "\n" if module_doc else "") + "\n".join(statements)
    compile(text, "m.py", "exec")  # the strategy makes Python that parses
    summary = summarise(file_block("pkg/m.py", text))
    assert summary == summarise(file_block("pkg/m.py", text))
    assert summary.startswith("# `pkg/m.py`\n\n")
    assert "does not parse" not in summary
    assert "outliner failed" not in summary
