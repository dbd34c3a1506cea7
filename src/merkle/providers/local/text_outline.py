"""Outlines of prose and of files the local provider cannot read structurally.

Markdown gets its title, heading tree and first paragraph; plain text its
first paragraph and opening lines; any other text its size and first lines;
a binary file, whose bytes are never sent, only its name and size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from merkle.providers.local.formats import extension_of
from merkle.providers.local.outline import (
    Outline,
    Section,
    clip,
    code,
    count_lines,
    first_paragraph,
    plural,
)

_OPENING_LINES = 8
_MAX_LINE_CHARS = 120

_ATX_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT_UNDERLINE = re.compile(r"^(=+|-+)\s*$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
# Lines that say nothing in a summary: badges, images, raw HTML, tables,
# link definitions and horizontal rules.
_NOT_PROSE = re.compile(r"^\s*(\[!\[|!\[|<|\||\[[^\]]+\]:|[-*_](\s*[-*_]){2,}\s*$)")

_BINARY_KINDS: dict[str, str] = {
    ".png": "PNG image",
    ".jpg": "JPEG image",
    ".jpeg": "JPEG image",
    ".gif": "GIF image",
    ".webp": "WebP image",
    ".ico": "icon",
    ".bmp": "bitmap image",
    ".pdf": "PDF document",
    ".zip": "ZIP archive",
    ".gz": "gzip archive",
    ".tgz": "gzip archive",
    ".tar": "tar archive",
    ".xz": "xz archive",
    ".whl": "Python wheel",
    ".pyc": "compiled Python bytecode",
    ".so": "shared library",
    ".dylib": "shared library",
    ".dll": "Windows library",
    ".exe": "Windows executable",
    ".o": "object file",
    ".a": "static library",
    ".wasm": "WebAssembly module",
    ".woff": "web font",
    ".woff2": "web font",
    ".ttf": "TrueType font",
    ".otf": "OpenType font",
    ".sqlite": "SQLite database",
    ".db": "database file",
    ".jar": "Java archive",
    ".class": "Java class file",
    ".mp3": "MP3 audio",
    ".wav": "WAV audio",
    ".mp4": "MP4 video",
}


@dataclass(slots=True)
class _MarkdownScan:
    headings: list[tuple[int, str]] = field(default_factory=list)
    prose: list[str] = field(default_factory=list)
    code_blocks: int = 0


def outline_markdown(path: str, text: str) -> Outline:
    """The title, heading tree and first paragraph of a Markdown document."""
    scan = _scan_markdown(_without_front_matter(text).splitlines())
    title = next((heading for level, heading in scan.headings if level == 1), None)
    outline_headings = list(scan.headings)
    if outline_headings and outline_headings[0] == (1, title):
        # The title heads the summary already; the outline lists what it holds.
        outline_headings = outline_headings[1:]
    top = min((level for level, _ in outline_headings), default=1)
    items = tuple("  " * (level - top) + heading for level, heading in outline_headings)
    facts = "Markdown document"
    facts += f" titled {code(title)}" if title else ""
    facts += f", {plural(count_lines(text), 'line')}, {plural(len(scan.headings), 'heading')}"
    facts += f", {plural(scan.code_blocks, 'code block')}." if scan.code_blocks else "."
    return Outline(
        summary=first_paragraph(scan.prose),
        facts=facts,
        sections=(Section(title="Headings", items=items),),
    )


def _without_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            return text[end + 4 :]
    return text


def _scan_markdown(lines: list[str]) -> _MarkdownScan:
    scan = _MarkdownScan()
    fence: str | None = None
    previous = ""
    for line in lines:
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1).startswith(fence):
                fence = None
        elif opened:
            fence = opened.group(1)
            scan.code_blocks += 1
        else:
            _scan_markdown_line(scan, line, previous)
        previous = line if fence is None and not opened else ""
    return scan


def _scan_markdown_line(scan: _MarkdownScan, line: str, previous: str) -> None:
    heading = _ATX_HEADING.match(line)
    underline = _SETEXT_UNDERLINE.match(line)
    if heading:
        scan.headings.append((len(heading.group(1)), heading.group(2)))
        scan.prose.append("")
    elif underline and previous.strip() and scan.prose and scan.prose[-1] == previous.strip():
        # `Title` over `=====` is a heading, not the paragraph it looked like.
        scan.prose.pop()
        scan.headings.append((1 if underline.group(1)[0] == "=" else 2, previous.strip()))
        scan.prose.append("")
    elif _NOT_PROSE.match(line):
        scan.prose.append("")
    else:
        scan.prose.append(line.strip())


def outline_plain_text(path: str, text: str) -> Outline:
    """The first paragraph and opening lines of a plain text file."""
    lines = text.splitlines()
    words = len(text.split())
    return Outline(
        summary=first_paragraph(lines),
        facts=f"Text file, {plural(len(lines), 'line')}, {plural(words, 'word')}.",
        sections=(Section(title="Opening lines", items=opening_lines(lines)),),
    )


def outline_generic(path: str, text: str) -> Outline:
    """What any text file shows without knowing its format: size and first lines."""
    lines = text.splitlines()
    extension = extension_of(path)
    kind = f"Text file with extension {code(extension)}" if extension else "Text file"
    return Outline(
        summary=None,
        facts=f"{kind}, {plural(len(lines), 'line')}.",
        sections=(Section(title="First lines", items=opening_lines(lines)),),
    )


def opening_lines(lines: list[str]) -> tuple[str, ...]:
    """The first non-blank lines, each as a code span so Markdown leaves it alone."""
    shown = [line.strip() for line in lines if line.strip()][:_OPENING_LINES]
    return tuple(code(clip(line, _MAX_LINE_CHARS)) for line in shown)


def outline_binary(path: str, size_bytes: str | None) -> Outline:
    """A binary or non-UTF-8 file, of which only the name and size are known."""
    extension = extension_of(path)
    kind = _BINARY_KINDS.get(extension)
    described = f"extension {code(extension)}" if extension else "no extension"
    if kind:
        described += f", likely a {kind}"
    return Outline(
        summary=f"Binary file of {_size(size_bytes)} ({described}).",
        facts="Its bytes are not sent to the model, so only its name and size are known.",
    )


def _size(size_bytes: str | None) -> str:
    if size_bytes is None or not size_bytes.isdigit():
        return "unknown size"
    count = int(size_bytes)
    text = plural(count, "byte")
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{text} ({count / scale:.1f} {unit})"
    return text
