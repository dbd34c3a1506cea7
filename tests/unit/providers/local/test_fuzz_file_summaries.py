"""Whatever a file holds, under whatever name, its summary comes back and says something.

Arbitrary text, text made of the characters declarations are built from, and
arbitrary bytes decoded as the payload would pass them on, under every
extension the local provider reads: the summary is never empty, always
starts with the file's heading, and summarising never raises.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from merkle.providers.local.file_summary import summarise_file
from merkle.providers.payload import Block

EXTENSIONS = [
    "py", "js", "mjs", "jsx", "ts", "tsx", "go", "rs", "java", "kt", "c", "h", "cc", "hpp",
    "cs", "rb", "php", "swift", "lua", "sh", "bash", "md", "rst", "txt", "json", "toml",
    "yaml", "ini", "csv", "sql", "xyz",
]  # fmt: skip

# Fragments of real syntax, so the parsers' error recovery is exercised, not
# just their handling of noise.
_TOKENS = st.sampled_from(
    [
        "def ", "class ", "func ", "fn ", "pub ", "export ", "import ", "end\n", "module ",
        "<?php ", "namespace ", "struct ", "template<", "function ", "local ", "#include ",
        "/**", "*/", "//", "#", "--[[", "]]", "---\n", "===\n", ".. ", "::\n", "[![a](b)](c)",
        "{", "}", "(", ")", "=>", ";", ":", "\n", "    ", "x", "Name", "'", '"', "`",
    ]
)  # fmt: skip
SOURCE_LIKE = st.lists(_TOKENS | st.text(max_size=3), max_size=80).map("".join)
ANY_TEXT = st.text(max_size=600)
ANY_BYTES = st.binary(max_size=600).map(lambda data: data.decode("utf-8", "replace"))


def _summary(path: str, text: str) -> str:
    return summarise_file(Block(kind="file", path=path, attributes={}, body=text))


@settings(max_examples=400, deadline=None)
@given(extension=st.sampled_from(EXTENSIONS), text=SOURCE_LIKE | ANY_TEXT | ANY_BYTES)
def test_any_text_under_any_extension_gets_a_summary(extension: str, text: str) -> None:
    path = f"pkg/file.{extension}"
    summary = _summary(path, text)
    heading = f"# `{path}`\n\n"
    assert summary.startswith(heading)
    assert summary[len(heading) :].strip()
    # The fallbacks are for bugs: on any text the outliners themselves succeed.
    assert "outliner failed" not in summary
    assert "parser failed" not in summary


@settings(max_examples=100, deadline=None)
@given(extension=st.sampled_from(EXTENSIONS), text=SOURCE_LIKE)
def test_the_same_text_always_gets_the_same_summary(extension: str, text: str) -> None:
    path = f"pkg/file.{extension}"
    assert _summary(path, text) == _summary(path, text)
