"""The summary of one file block: pick the outliner for its format, render it.

A file the payload marks as binary is described from its name and size. A
text cut short by the payload's size budget has its truncation marker taken
off and noted, so the outliner reads only real content. Source code is read
by its tree-sitter grammar where one is bundled, by line patterns otherwise
or when the parser fails. A text that does not parse in the format its name
promises falls back to a simpler outline, with a note that says why; so does
a text an outliner fails on for any other reason, and if even that fails,
the summary says only what the file is. Summarising never fails a node
because of what the file holds.
"""

from __future__ import annotations

from collections.abc import Callable

from merkle.providers.local.code_outline import outline_code
from merkle.providers.local.code_specs import SPECS
from merkle.providers.local.data_outline import (
    outline_csv,
    outline_ini,
    outline_json,
    outline_toml,
    outline_yaml,
)
from merkle.providers.local.formats import Format, detect
from merkle.providers.local.markup_outline import outline_markdown, outline_rst
from merkle.providers.local.outline import Outline, UnparsableText, code, render_outline
from merkle.providers.local.python_outline import outline_python
from merkle.providers.local.text_outline import (
    outline_binary,
    outline_generic,
    outline_plain_text,
)
from merkle.providers.local.tree_sitter_outline import NoGrammar, ParserGaveUp, outline_tree
from merkle.providers.payload import TRUNCATION_MARKER, Block

_Outliner = Callable[[str, str], Outline]

_OUTLINERS: dict[Format, _Outliner] = {
    Format.MARKDOWN: outline_markdown,
    Format.RST: outline_rst,
    Format.JSON: outline_json,
    Format.TOML: outline_toml,
    Format.YAML: outline_yaml,
    Format.INI: outline_ini,
    Format.CSV: outline_csv,
    Format.TEXT: outline_plain_text,
    Format.UNKNOWN: outline_generic,
}


def summarise_file(block: Block, *, max_chars: int = 1 << 30) -> str:
    """The Markdown summary of the file in `block`, shortened to `max_chars` as far
    as the names of its definitions allow."""
    withheld = block.attributes.get("withheld")
    if withheld:
        return render_outline(block.path, Outline(summary=None, facts=f"Not read: {withheld}."))
    if block.attributes.get("binary") == "true":
        return render_outline(
            block.path, outline_binary(block.path, block.attributes.get("size_bytes"))
        )
    text, marker = split_truncation(block.body)
    outline = _robust_outline(block.path, text, truncated=marker is not None)
    if marker is not None:
        note = (
            f"the file was cut short before it was sent ({code(marker)}); "
            "this outline covers the part that was sent."
        )
        outline = _with_note(outline, note)
    return render_outline(block.path, outline, max_chars=max_chars)


def split_truncation(body: str) -> tuple[str, str | None]:
    """The text without a trailing truncation marker line, and that marker."""
    stripped = body.rstrip("\n")
    head, _, last = stripped.rpartition("\n")
    if last.startswith(TRUNCATION_MARKER):
        return head, last.strip()
    return body, None


def _robust_outline(path: str, text: str, *, truncated: bool) -> Outline:
    """`_outline`, or a plainer outline when an outliner fails on this text."""
    try:
        return _outline(path, text, truncated=truncated)
    except Exception as error:  # an outliner's bug must not fail the node
        failed = type(error).__name__
        note = f"the outliner failed on this file ({failed}), so this outline is a plain one."
    try:
        return _with_note(outline_generic(path, text), note)
    except Exception:
        lines = text.count("\n") + (not text.endswith("\n"))
        return Outline(summary=None, facts=f"Text file, {lines:,} lines.", notes=(note,))


def _outline(path: str, text: str, *, truncated: bool) -> Outline:
    if not text.strip():
        return Outline(summary=None, facts="Empty file: it holds no text.")
    language = detect(path, text)
    try:
        return _outline_as(language, path, text, truncated=truncated)
    except UnparsableText as error:
        fallback = (
            outline_source(path, text, language=Format.PYTHON, note_errors=False)
            if language is Format.PYTHON
            else outline_generic(path, text)
        )
        note = f"it does not parse as {language.value} ({error}), so this outline is a plain one."
        return _with_note(fallback, note)


def _outline_as(language: Format, path: str, text: str, *, truncated: bool) -> Outline:
    if language is Format.PYTHON:
        return outline_python(path, text, truncated=truncated)
    outliner = _OUTLINERS.get(language)
    if outliner is not None:
        return outliner(path, text)
    return outline_source(path, text, language=language, note_errors=not truncated)


def outline_source(path: str, text: str, *, language: Format, note_errors: bool) -> Outline:
    """Source code read by its tree-sitter grammar, or by line patterns without one.

    A parser that fails, or is not installed, leaves the line patterns to
    outline the file; `note_errors` says whether to note where it stops parsing.
    """
    try:
        return outline_tree(path, text, language=language, note_errors=note_errors)
    except (NoGrammar, ImportError):
        note = None
    except ParserGaveUp as error:
        note = f"{error}, so this outline is read from line patterns."
    except Exception as error:  # the parser's failure must not fail the node
        note = (
            f"the parser failed on this file ({type(error).__name__}), "
            "so this outline is read from line patterns."
        )
    if language in SPECS:
        outline = outline_code(path, text, language=language)
    else:
        outline = outline_generic(path, text)
    return _with_note(outline, note) if note else outline


def _with_note(outline: Outline, note: str) -> Outline:
    return Outline(
        summary=outline.summary,
        facts=outline.facts,
        sections=outline.sections,
        notes=(*outline.notes, note),
    )
