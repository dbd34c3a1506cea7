"""Outlines of plain text and of files the local provider cannot read structurally.

Plain text gets its first paragraph of prose and its opening lines; any
other text its size and first lines; a binary file, whose bytes are never
sent, only its name and size.
"""

from __future__ import annotations

from merkle.providers.local.formats import extension_of
from merkle.providers.local.outline import (
    Outline,
    Section,
    clip,
    code,
    plural,
)
from merkle.providers.local.prose import docstring_summary

_OPENING_LINES = 8
_MAX_LINE_CHARS = 120

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


def outline_plain_text(path: str, text: str) -> Outline:
    """The first paragraph and opening lines of a plain text file."""
    lines = text.splitlines()
    words = len(text.split())
    return Outline(
        summary=docstring_summary(text),
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
