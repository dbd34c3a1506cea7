"""What one child's frame says of itself, read from the frame's text alone.

A directory summary needs two things from each child's frame: its purpose
(the first sentence of prose that says what the child is for) and its one
line (the purpose, or else the first line that says anything at all, such
as a file outline's facts). Frames come from any provider, and the prompt
builder may have cut them to their first paragraph or sentence, or to a
note that their text was left out; all of these read the same way here.

The purpose is looked for where frames state it: before the first `##`
section or in a section titled like `Purpose`, skipping headings, titles
with an underline (`Title ~~~~`), badge and link lines, notes, licence
lines and a file outline's facts. Failing that, the first lines a local
outline quotes are read as the prose they quote when they are prose, since
a README in a format without an outliner has its first paragraph there.
Nothing is made up: what is not in the frame is not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from merkle.providers.local.prose import (
    ADORNMENT,
    LICENCE,
    SENTENCE_END,
    first_sentence,
    is_markup,
)

MAX_LINE_CHARS = 200

_FENCE = re.compile(r"^(`{3,}|~{3,})")
_SKIPPED = re.compile(
    r"^(#|<!--|\||[-*_=~](\s*[-*_=~]){2,}\s*$|\[[^\]]+\]:\s*\S+$|!\[|\[!\[|<[a-zA-Z]|Note: )"
)
_MARKERS = re.compile(r"^(?:[-*+]\s+|\d+[.)]\s+|>\s*)+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|\b_)(?=\S)(.+?)(?<=\S)\1(?!\w)")
# A link, or one cut off inside its address (`[Docs](https://exa...`).
_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^)\s]*\)|\S*$)")
_URL = re.compile(r"<?https?://\S+>?")
# `Title` run on into its underline, as a docstring's first paragraph is
# joined onto one line: `pygments.lexers ~~~~~~~~~~`.
_TITLE = re.compile(r"^(?P<title>.+?)\s+(?P<rule>([=~\-^*+#\"'`])\3{2,})(?:\s+|$)")
_NAME_ONLY = re.compile(r"^\(its context is [^()]*\)$")
# The facts line every local outline has (kind, size, counts), the summary
# an outliner composes from names, and this module's own directory lines:
# true, but they say what a node holds, not what it is for.
_FACTS = re.compile(
    r"^(?:[A-Z][\w+#]*(?: [\w+#]+){0,3}(?: titled .+?| with extension `[^`]*`)?, [\d,]+ "
    r"(?:lines?|rows?)\b|(?:JSON|CSV|TOML|YAML|INI) (?:object|array|document|table|"
    r"configuration)\b|Not read: |Empty file: |Binary file of |Its bytes are not sent |"
    r"Defines (?:classes|functions) |Holds (?:\d|nothing)|Includes `|Children\b|also: |"
    r"An empty directory)"
)
# An item that describes a part of the node (`- `load()` — Reads it.`), not the node.
_MEMBER = re.compile(r"^`[^`]+`(?:\([^)]*\))?\s*(?::|—|-|\u2013)\s")
# Sections where a frame states its purpose, and those where a local outline
# quotes a file's first lines.
_SUMMARY_SECTION = re.compile(
    r"^(summary|purpose|overview|tl;dr|about|description|what it does)\b", re.IGNORECASE
)
_QUOTING_SECTIONS = ("Opening lines", "First lines")


@dataclass(frozen=True, slots=True, kw_only=True)
class Gist:
    """What a frame says of its node: `purpose` when it says what the node is for,
    `line` the one line to show for it (the purpose, or the first line that says
    anything), `lead` the purpose with a second sentence when the first is short;
    `left_out` when the prompt sent the child's name without its frame."""

    purpose: str | None
    line: str | None
    lead: str | None
    left_out: bool = False


def read_gist(frame: str) -> Gist:
    """The `Gist` of `frame`; all None when the frame says nothing or was left out."""
    if _NAME_ONLY.match(frame.strip()):
        return Gist(purpose=None, line=None, lead=None, left_out=True)
    head, *sections = re.split(r"^## ", frame, flags=re.MULTILINE)
    paragraph = _purpose_paragraph(head)
    for section in sections:
        if paragraph is not None:
            break
        title, _, body = section.partition("\n")
        if _SUMMARY_SECTION.match(title):
            paragraph = _purpose_paragraph(body)
        elif title.strip() in _QUOTING_SECTIONS:
            paragraph = _quoted_prose(body)
    line = first_meaningful_line(frame)
    if paragraph is None:
        return Gist(purpose=None, line=line, lead=None)
    purpose = shorten(first_sentence(paragraph), MAX_LINE_CHARS)
    return Gist(purpose=purpose, line=purpose, lead=_lead(paragraph))


def _purpose_paragraph(text: str) -> str | None:
    return next((found for found in _prose_paragraphs(text) if _is_purpose(found)), None)


def first_meaningful_line(frame: str) -> str | None:
    """The first paragraph or item of `frame` that says something, cut at its first
    sentence."""
    for text in _prose_paragraphs(frame):
        return shorten(first_sentence(text), MAX_LINE_CHARS)
    return None


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut after a word, with `…` when cut;
    a code span is cut whole, so the Markdown stays balanced."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    # A cut inside a long word beats a line that says next to nothing.
    cut = cut[:space] if space > width // 2 else cut
    if cut.count("`") % 2:
        cut = cut[: cut.rfind("`")]
    return cut.rstrip(" ,;:(") + "…"


def _lead(paragraph: str) -> str:
    # "This is the source of X." says little alone; the sentence after it
    # usually says what X is.
    first = first_sentence(paragraph)
    rest = paragraph[len(first) :].strip()
    if len(first) < 60 and rest and not _is_licence(rest):
        return shorten(first + " " + first_sentence(rest), 2 * MAX_LINE_CHARS)
    return shorten(first, MAX_LINE_CHARS)


def _is_purpose(text: str) -> bool:
    return (
        len(text.split()) >= 2
        and not _FACTS.match(text)
        and not _is_licence(text)
        and not _MEMBER.match(text)
    )


def _is_licence(text: str) -> bool:
    return bool(LICENCE.match(text))


def _prose_paragraphs(text: str) -> list[str]:
    """Each paragraph or list item of `text` that says something, on one line,
    cleaned of Markdown, titles and lines that say nothing."""
    found: list[str] = []
    current: list[str] = []

    def flush() -> None:
        cleaned = _clean(" ".join(current))
        if cleaned:
            found.append(cleaned)
        current.clear()

    fenced = False
    lines = [raw.strip() for raw in text.splitlines()]
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            flush()
            continue
        underlined = index + 1 < len(lines) and ADORNMENT.match(lines[index + 1])
        if fenced or not line or underlined or _SKIPPED.match(line):
            flush()
            continue
        if _MARKERS.match(line):
            flush()
        current.append(_MARKERS.sub("", line))
    flush()
    return found


def _clean(line: str) -> str:
    """`line` without its Markdown links, emphasis and a leading run-on title."""
    # A line of links, URLs and separators alone (a language bar) says nothing.
    bare = _URL.sub("", _LINK.sub("", line))
    if bare != line and not re.search(r"[^\W\d_]{2}", bare):
        return ""
    text = _LINK.sub(r"\1", line)
    title = _TITLE.match(text)
    if title and len(title["rule"]) >= 0.8 * len(title["title"]):
        text = text[title.end() :]
    # Emphasis is taken off outside code spans only: `__init__` stays as it is.
    parts = re.split(r"(`+[^`]*`+)", text)
    text = "".join(part if part.startswith("`") else _EMPHASIS.sub(r"\2", part) for part in parts)
    return " ".join(text.split())


def _quoted_prose(body: str) -> str | None:
    """The first paragraph of prose among a text outline's quoted opening lines,
    which stand one to an item, each as a code span."""
    lines = [_unquoted(raw.strip().removeprefix("- ")) for raw in body.splitlines() if raw.strip()]
    paragraph: list[str] = []
    for index, line in enumerate(lines):
        underlined = index + 1 < len(lines) and ADORNMENT.match(lines[index + 1])
        # Titles, directives (`.. image::`) and fields (`:license:`) end a paragraph.
        if underlined or ADORNMENT.match(line) or is_markup(line):
            if paragraph:
                break
            continue
        paragraph.append(line)
    text = _clean(" ".join(paragraph))
    words = text.split()
    # Quoted lines may be code or `Key: value` metadata: only a capitalised
    # sentence of a few words counts as prose.
    prose = (
        len(words) >= 3
        and text[:1].isupper()
        and not words[0].endswith(":")
        and SENTENCE_END.search(text + " A") is not None
    )
    return text if prose and _is_purpose(text) else None


def _unquoted(item: str) -> str:
    if item.startswith("`` ") and item.endswith(" ``"):
        return item[3:-3]
    return item[1:-1] if item.startswith("`") and item.endswith("`") else item
