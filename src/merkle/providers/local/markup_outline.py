"""Outlines of Markdown and reStructuredText documents: title, headings, first prose.

Markdown is parsed with markdown-it (CommonMark with tables), so headings,
code blocks, images and links are told apart the way a renderer tells them;
reStructuredText with its tree-sitter grammar. The summary is the first
paragraph of prose: never a badge or link bar, a title's underline, a field
list or a licence line.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from merkle.providers.local.outline import Outline, Section, code, count_lines, plural
from merkle.providers.local.prose import summary_paragraph
from merkle.providers.local.syntax import text_of
from merkle.providers.local.tree_sitter_outline import parse

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from tree_sitter import Node

_LISTS = frozenset({"bullet_list_open", "ordered_list_open", "table_open"})
_LIST_ENDS = frozenset({"bullet_list_close", "ordered_list_close", "table_close"})
_RST_CODE_DIRECTIVES = frozenset({"code", "code-block", "sourcecode", "literalinclude"})
_RST_INLINE = (
    (re.compile(r"``(.+?)``"), r"`\1`"),
    (re.compile(r":[\w:.-]+:`([^`<]*?)(?:\s*<[^>]*>)?`"), r"`\1`"),
    (re.compile(r"`([^`<]+?)\s*<[^>]*>`__?"), r"\1"),
    (re.compile(r"`([^`]+)`_"), r"\1"),
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)\*(\S.*?)\*"), r"\1"),
    (re.compile(r"::$"), ":"),
)


@dataclass(slots=True)
class _Document:
    kind: str
    headings: list[tuple[int, str]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    code_blocks: int = 0


def outline_markdown(path: str, text: str) -> Outline:
    """The title, heading tree and first prose paragraph of a Markdown document."""
    document = _Document(kind="Markdown document")
    tokens = _markdown().parse(_without_front_matter(text))
    in_list = 0
    for index, token in enumerate(tokens):
        in_list += (token.type in _LISTS) - (token.type in _LIST_ENDS)
        inline = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.type == "heading_open" and inline is not None:
            document.headings.append((int(token.tag[1:]), _plain(inline.children or [])))
        elif token.type == "paragraph_open" and inline is not None and not in_list:
            if _says_something(inline.children or []):
                document.paragraphs.append(_plain(inline.children or []))
        elif token.type in ("fence", "code_block"):
            document.code_blocks += 1
    return _outline(document, text)


@functools.cache
def _markdown() -> MarkdownIt:
    # Imported on first use: markdown-it costs about 30 ms to load, which a
    # run without a Markdown file should not pay.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def _without_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[end + 4 :]
    return text


def _plain(children: list[Token]) -> str:
    # Text as a reader sees it: link text kept, images and raw HTML dropped,
    # code kept as code; line breaks kept so a paragraph's lines can be judged.
    parts: list[str] = []
    for child in children:
        if child.type == "text":
            parts.append(child.content)
        elif child.type == "code_inline":
            parts.append(code(child.content))
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts).strip()


def _says_something(children: list[Token]) -> bool:
    """Whether a paragraph has words outside its links: a badge or link bar has none."""
    depth = 0
    for child in children:
        depth += (child.type == "link_open") - (child.type == "link_close")
        words = depth == 0 and child.type in ("text", "code_inline")
        if words and any(character.isalpha() for character in child.content):
            return True
    return False


def outline_rst(path: str, text: str) -> Outline:
    """The title, heading tree and first prose paragraph of a reStructuredText document."""
    document = _Document(kind="reStructuredText document")
    styles: list[tuple[str, bool]] = []
    for node in parse("rst", text).named_children:
        if node.type == "section":
            title = next((c for c in node.named_children if c.type == "title"), None)
            style = _adornment_style(node)
            if style not in styles:
                styles.append(style)
            if title is not None:
                heading = " ".join(text_of(title).split())
                document.headings.append((styles.index(style) + 1, heading))
        elif node.type == "paragraph":
            document.paragraphs.append(_rst_prose(node))
            document.code_blocks += sum(c.type == "literal_block" for c in node.named_children)
        elif node.type == "directive":
            name = node.child_by_field_name("name")
            document.code_blocks += name is not None and text_of(name) in _RST_CODE_DIRECTIVES
    return _outline(document, text)


def _adornment_style(section: Node) -> tuple[str, bool]:
    # reStructuredText ranks titles by the order their styles first appear:
    # the character of the underline, and whether there is an overline too.
    adornments = [child for child in section.children if child.type == "adornment"]
    character = text_of(adornments[-1]).strip()[:1] if adornments else ""
    return character, len(adornments) > 1


def _rst_prose(paragraph: Node) -> str:
    end = next(
        (c.start_byte for c in paragraph.named_children if c.type == "literal_block"),
        paragraph.end_byte,
    )
    raw = (paragraph.text or b"")[: end - paragraph.start_byte].decode("utf-8", "replace")
    lines = []
    for line in raw.strip().splitlines():
        for pattern, replacement in _RST_INLINE:
            line = pattern.sub(replacement, line.strip())
        lines.append(line)
    return "\n".join(lines)


def _outline(document: _Document, text: str) -> Outline:
    title = next((heading for level, heading in document.headings if level == 1), None)
    headings = list(document.headings)
    if headings and headings[0] == (1, title):
        # The title heads the facts already; the outline lists what it holds.
        headings = headings[1:]
    top = min((level for level, _ in headings), default=1)
    items = tuple("  " * (level - top) + heading for level, heading in headings)
    facts = document.kind + (f" titled {code(title)}" if title else "")
    facts += f", {plural(count_lines(text), 'line')}, {plural(len(document.headings), 'heading')}"
    facts += f", {plural(document.code_blocks, 'code block')}." if document.code_blocks else "."
    return Outline(
        summary=summary_paragraph(document.paragraphs),
        facts=facts,
        sections=(Section(title="Headings", items=items),),
    )
