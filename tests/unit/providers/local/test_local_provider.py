"""The local provider end to end: real project files in, useful Markdown out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import merkle.tree.hashing
from merkle.config import ProviderSettings
from merkle.providers.base import ErrorClass, ProviderError
from merkle.providers.local import MODEL, LocalProvider
from merkle.providers.payload import child_block, file_block
from tests.unit.providers.local.support import complete, summarise_directory, summarise_file

ROOT = Path(__file__).resolve().parents[4]


def _project_file(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def test_the_same_messages_give_byte_identical_text() -> None:
    text = _project_file("src/merkle/workspace/scan.py")
    first = summarise_file("src/merkle/workspace/scan.py", text)
    second = summarise_file("src/merkle/workspace/scan.py", text)
    assert first == second
    assert first.startswith("# `src/merkle/workspace/scan.py`\n")


def test_a_real_python_module_is_summarised_with_its_docstring_and_signatures() -> None:
    path = "src/merkle/tree/hashing.py"
    summary = summarise_file(path, _project_file(path))

    docstring = merkle.tree.hashing.__doc__
    assert docstring is not None
    assert summary.splitlines()[2] == docstring.splitlines()[0]
    assert "- `file_node_id(path: str, content_hash: str) -> str` — The NodeID of a file" in summary
    assert "- `hash_bytes(data: bytes) -> str` — The content hash of an in-memory" in summary
    assert (
        "`hash_file(path: str | os.PathLike[str], *, buffer: bytearray | None = None, "
        "on_bytes: Callable[[int], None] | None = None) -> str`"
    ) in summary
    assert "`directory_node_id(path: str, children: Sequence[tuple[str, str]]) -> str`" in summary
    assert "- `CHUNK_BYTES = 1 << 20`" in summary
    assert "- third-party: `blake3`" in summary
    public = [
        name
        for name, value in vars(merkle.tree.hashing).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == "merkle.tree.hashing"
    ]
    assert public, "the module defines public functions"
    for name in public:
        assert f"`{name}(" in summary


def test_a_real_python_module_lists_its_classes_with_bases_and_methods() -> None:
    path = "src/merkle/providers/base.py"
    summary = summarise_file(path, _project_file(path))

    assert "- `Role(Enum)` — Who speaks a message." in summary
    assert "  - members: `SYSTEM`, `USER`, `ASSISTANT`" in summary
    assert (
        "- `ProviderError(GenerationError)` — A provider call that failed, classified."
    ) in summary
    assert (
        "  - `async complete(messages: Sequence[Message], options: CompletionOptions) "
        "-> Completion` — One completion, or a `ProviderError`."
    ) in summary
    assert "- local: `merkle.errors`" in summary


def test_the_project_readme_gives_its_title_first_paragraph_and_headings() -> None:
    readme = _project_file("README.md")
    summary = summarise_file("README.md", readme)

    title = readme.splitlines()[0].removeprefix("# ")
    assert f"Markdown document titled `{title}`" in summary
    headings = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    assert len(headings) >= 3
    bullets = [line.removeprefix("- ") for line in summary.splitlines() if line.startswith("- ")]
    assert bullets == headings
    first_words = " ".join(readme.split("\n\n")[1].split()[:6])
    assert first_words in summary


def test_a_directory_quotes_each_childs_first_line_in_path_order() -> None:
    hashing = summarise_file(
        "src/merkle/tree/hashing.py", _project_file("src/merkle/tree/hashing.py")
    )
    notes = "## Overview\n\n**Builds** the tree. It walks the disk first, then hashes.\n"
    summary = summarise_directory(
        "src/merkle/tree",
        [
            ("src/merkle/tree/hashing.py", "file", hashing),
            ("src/merkle/tree/walker", "directory", notes),
        ],
    )

    lines = summary.splitlines()
    assert lines[0] == "# `src/merkle/tree/`"
    assert lines[4] == "Holds 1 file and 1 subdirectory; mainly Python (1)."
    hashing_line = "- `hashing.py`: BLAKE3 content hashes and NodeIDs."
    walker_line = "- `walker/`: Builds the tree."
    assert lines.index(hashing_line) < lines.index(walker_line)


def test_the_workspace_root_is_named_as_such() -> None:
    summary = summarise_directory(".", [("README.md", "file", "# x\n\nThe readme.\n")])
    assert summary.startswith(
        "# `.`\n\nThe readme.\n\nHolds 1 file; mainly Markdown (1).\n\n- `README.md`: The"
    )


def test_a_binary_file_is_described_by_extension_and_size() -> None:
    summary = summarise_file(
        "assets/logo.png", "[binary file, 2048 bytes]", binary="true", size_bytes="2048"
    )
    assert "Binary file of 2048 bytes (2.0 KiB) (extension `.png`, likely a PNG image)." in summary


def test_a_python_file_with_a_syntax_error_falls_back_with_a_note() -> None:
    text = '"""Broken."""\n\ndef ok(a: int) -> int:\n    return a\n\ndef broken(:\n    pass\n'
    summary = summarise_file("pkg/broken.py", text)
    assert "Note: it does not parse as Python (SyntaxError at line 6:" in summary
    assert "- `def ok(a: int) -> int`" in summary


def test_a_truncated_file_is_outlined_from_the_part_that_was_sent() -> None:
    text = (
        '"""Cut short."""\n\n\ndef first(x: int) -> int:\n    return x\n\n\n'
        "def second(y):\n    return (y +\n[... truncated: 10,000 more bytes]\n"
    )
    summary = summarise_file("pkg/long.py", text)
    assert "Note: the file was cut short before it was sent (`[... truncated: 10,000" in summary
    assert "- `first(x: int) -> int`" in summary
    assert "does not parse" not in summary


def test_an_empty_file_says_so() -> None:
    assert "Empty file: it holds no text." in summarise_file("pkg/__init__.py", "")


def test_usage_is_an_estimate_from_the_text_sizes() -> None:
    completion = complete(file_block("a.txt", "hello world") + "\n\nSummarise.")
    assert completion.model == MODEL
    assert completion.usage.output_tokens == -(-len(completion.text) // 4)
    assert completion.usage.input_tokens is not None
    assert completion.usage.input_tokens > 0


def test_max_tokens_cuts_the_summary_visibly_at_a_line_boundary() -> None:
    path = "src/merkle/providers/base.py"
    completion = complete(file_block(path, _project_file(path)), max_tokens=60)
    assert len(completion.text) <= 60 * 4
    assert completion.text.endswith("\n[... cut at max_tokens]\n")
    assert completion.text.startswith(f"# `{path}`\n")


def test_the_configured_name_is_kept_and_the_type_is_local() -> None:
    provider = LocalProvider(ProviderSettings(name="offline", type="local"))
    assert (provider.name, provider.provider_type, provider.model) == ("offline", "local", MODEL)


def test_a_message_without_blocks_is_a_bad_request() -> None:
    with pytest.raises(ProviderError) as caught:
        complete("Summarise src/a.py please.")
    assert caught.value.error_class is ErrorClass.BAD_REQUEST
    assert not caught.value.retryable
    assert "no content block" in caught.value.message


def test_file_and_child_blocks_together_are_a_bad_request() -> None:
    user = file_block("a.py", "x = 1") + "\n" + child_block("b.py", "# b", node_type="file")
    with pytest.raises(ProviderError) as caught:
        complete(user)
    assert caught.value.error_class is ErrorClass.BAD_REQUEST


def test_an_unknown_model_is_model_not_found() -> None:
    provider = LocalProvider(ProviderSettings(name="local", type="local", model="gpt-4o"))
    with pytest.raises(ProviderError) as caught:
        complete(file_block("a.py", "x = 1"), provider=provider)
    assert caught.value.error_class is ErrorClass.MODEL_NOT_FOUND
