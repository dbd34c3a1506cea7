"""The shape every file summary of the local provider takes, and its Markdown.

An outliner turns a file's text into an `Outline`: one sentence on what the
file is for (when the file says so itself), one line of facts (kind, size,
counts) and titled sections of bullet items. `render_outline` writes it out
with fixed caps, so a huge file still gives a bounded summary. The first line
after the heading is always the most informative one, because a directory's
summary quotes exactly that line for each child.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ITEMS = 40
"""Top-level items listed in full per section; the rest are named in one line."""
MAX_NAMED = 400
"""Items named in that line before "and N more"."""

MAX_ITEM_CHARS = 220
MAX_LIST_CHARS = 8000
"""A list of names (`private: `a`, `b``) is cut this long rather than as an item."""
MAX_SUMMARY_CHARS = 400


class UnparsableText(ValueError):
    """The text is not valid in the format its name promises; `str()` says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """A titled list. An item's leading spaces nest it under the item above."""

    title: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outline:
    """What the local provider knows about one file."""

    summary: str | None
    facts: str
    sections: tuple[Section, ...] = ()
    notes: tuple[str, ...] = ()


def code(text: str) -> str:
    """`text` as an inline code span, safe when it holds backticks itself."""
    if "`" in text:
        return f"`` {text.replace('``', '` `')} ``"
    return f"`{text}`"


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to at most `limit` characters with a visible `...`."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: max(limit - 3, 0)].rstrip() + "..."


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 function`, `3 functions`, with an irregular plural when given."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"


def join_names(names: list[str], *, limit: int = MAX_ITEMS) -> str:
    """Names as code spans, comma-separated, with "and N more" past `limit`."""
    shown = ", ".join(code(name) for name in names[:limit])
    hidden = len(names) - limit
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def count_lines(text: str) -> int:
    """Lines of `text`, counting a last line without a newline."""
    return len(text.splitlines())


def first_paragraph(lines: list[str]) -> str | None:
    """The first run of non-blank lines, joined on one line."""
    paragraph: list[str] = []
    for line in lines:
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            break
    return " ".join(paragraph) if paragraph else None


# How a summary too long for its answer is shortened, step by step: members
# (methods, fields) go first, then top-level items are listed by name only.
_DETAIL_LEVELS = ((MAX_ITEMS, True), (MAX_ITEMS, False), (20, False), (10, False), (0, False))


def render_outline(path: str, outline: Outline, *, max_chars: int = 1 << 30) -> str:
    """The Markdown summary of the file at `path`, within `max_chars` as far as the
    names of its items fit: detail is dropped before any name is."""
    for items, nested in _DETAIL_LEVELS:
        text = _rendered(path, outline, max_items=items, nested=nested)
        if len(text) <= max_chars:
            return text
    return text


def _rendered(path: str, outline: Outline, *, max_items: int, nested: bool) -> str:
    parts = [f"# {code(path)}"]
    if outline.summary:
        parts.append(clip(outline.summary, MAX_SUMMARY_CHARS))
    parts.append(outline.facts)
    parts.extend(f"Note: {note}" for note in outline.notes)
    for section in outline.sections:
        if section.items:
            lines = _section_lines(section.items, max_items=max_items, nested=nested)
            parts.append(f"## {section.title}\n\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _section_lines(items: tuple[str, ...], *, max_items: int, nested: bool) -> list[str]:
    lines: list[str] = []
    hidden: list[str] = []
    shown = 0
    skipping = False
    for item in items:
        depth = len(item) - len(item.lstrip(" "))
        if depth == 0:
            # Only top-level items count against the cap; their nested items
            # follow them in or out, so a cut never orphans a sub-item.
            skipping = shown >= max_items
            shown += not skipping
            if skipping:
                hidden.extend(_item_names(item))
        if not skipping and (depth == 0 or nested):
            limit = MAX_LIST_CHARS if _LABEL.match(item.lstrip(" ")) else MAX_ITEM_CHARS
            lines.append(" " * depth + "- " + _balanced(clip(item, limit)))
    if hidden:
        # Past the cap every item is still named, so none is lost to a reader.
        label = "also: " if lines else ""
        lines.append(f"- {label}{join_names(hidden, limit=MAX_NAMED)}")
    return lines


_CODE_SPAN = re.compile(r"`([^`]+)`")


_LABEL = re.compile(r"^(?:[\w ]+|`\w+`): `")


def _item_names(item: str) -> list[str]:
    """The names an item is about: every name of a labelled list (`private: `a`,
    `b``), else its first code span that is not a decorator, up to its arguments
    or value."""
    head = item.split(" — ", 1)[0]
    spans = [span for span in _CODE_SPAN.findall(head) if not span.startswith("@")]
    if not spans:
        return [head.strip()]
    if _LABEL.match(head):
        return spans
    return [re.split(r"[\s(:=<\[]", spans[0], maxsplit=1)[0] or spans[0]]


def _balanced(text: str) -> str:
    # A clipped item may have lost the backtick that closes its code span.
    return text + "`" if text.count("`") % 2 else text
