"""Outlines of source code in languages read by pattern, not by a parser.

Each language has a `CodeSpec`: the comment markers of its header comment
(which usually says what the file is for) and a few line patterns, one per
kind of declaration. A declaration is shown as written, on one line, so a
reader sees the real signature. Patterns miss unusual layouts (a signature
split over many lines, a declaration built by a macro); the outline says what
it found, never what it guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from merkle.providers.local.code_specs import SPECS, DeclarationKind
from merkle.providers.local.formats import Format
from merkle.providers.local.outline import (
    Outline,
    Section,
    clip,
    code,
    count_lines,
    plural,
)
from merkle.providers.local.prose import DIRECTIVE, summary_paragraph
from merkle.providers.local.text_outline import opening_lines

_MAX_DECLARATION_CHARS = 160
_TRAILER = re.compile(r"\s*(\{|;|:|=>|=)\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Found:
    kind: DeclarationKind
    items: tuple[str, ...]


def outline_code(path: str, text: str, *, language: Format) -> Outline:
    """The declarations of a source file in `language`, by its line patterns."""
    spec = SPECS[language]
    found = [_Found(kind=kind, items=_declarations(kind, text)) for kind in spec.kinds]
    counts = ", ".join(
        plural(len(entry.items), entry.kind.noun, entry.kind.plural)
        for entry in found
        if entry.items and entry.kind.counted
    )
    facts = f"{spec.label}, {plural(count_lines(text), 'line')}{header_fact(language, text)}"
    facts += f": {counts}." if counts else "."
    sections = tuple(Section(title=entry.kind.title, items=entry.items) for entry in found)
    if not any(entry.items for entry in found):
        sections += (Section(title="First lines", items=opening_lines(text.splitlines())),)
    return Outline(
        summary=header_comment(text, spec.comment_prefixes),
        facts=facts,
        sections=sections,
    )


def header_fact(language: Format, text: str) -> str:
    """`, `package x``: the line that places a file in its package, for the facts line."""
    spec = SPECS.get(language)
    if spec is None or spec.header is None:
        return ""
    found = spec.header.search(text)
    return f", {code(clip(found.group(0).strip(), 80))}" if found else ""


def _declarations(kind: DeclarationKind, text: str) -> tuple[str, ...]:
    matches: list[tuple[int, str]] = []
    for pattern in kind.patterns:
        for match in pattern.finditer(text):
            named = match.groupdict().get("item")
            matches.append((match.start(), named if named is not None else match.group(0)))
    # Several patterns may find one declaration: keep the first, in file order.
    seen: dict[str, None] = {}
    for _, raw in sorted(matches):
        seen.setdefault(_clean(raw), None)
    return tuple(code(item) for item in seen if item)


def _clean(raw: str) -> str:
    flat = " ".join(raw.split())
    return clip(_TRAILER.sub("", flat), _MAX_DECLARATION_CHARS)


def header_comment(text: str, prefixes: tuple[str, ...]) -> str | None:
    """The first descriptive paragraph of the comment that opens `text`, if any."""
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#!", "<?php")) and not paragraphs[0]:
            continue
        if not stripped:
            paragraphs.append([])
            continue
        body = _comment_body(stripped, prefixes)
        if body is None:
            break
        if not body:
            paragraphs.append([])
        elif not DIRECTIVE.match(body):
            paragraphs[-1].append(body)
    return summary_paragraph("\n".join(paragraph) for paragraph in paragraphs)


def _comment_body(line: str, prefixes: tuple[str, ...]) -> str | None:
    for prefix in prefixes:
        if line.startswith(prefix):
            body = line[len(prefix) :].strip()
            if body.endswith("*/"):
                body = body[:-2].strip()
            return body.lstrip("*/#-!").strip()
    return None
