"""A directory's child blocks, made to fit the prompt's budget without losing a child.

Each child is sent with its whole frame when all of them fit; otherwise with
its summary (the frame's declared summary section, or its first paragraph);
then with its first sentence; then by name alone. Every child is in the
prompt at every step; when even the names do not fit, the directory has to
be summarised in parts (`merkle.context.generation.parts`).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Sequence

from merkle.providers.payload import child_block
from merkle.providers.tokens import estimate_tokens

# (path, node type, frame)
Child = tuple[str, str, str]

_SUMMARY_HEADING = re.compile(r"^#{1,6}\s+(summary|purpose|overview|tl;dr)\b", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6}\s|=+\s*$|-+\s*$)")
_NOISE = re.compile(r"^(\[!\[|!\[|<img|<p\s|<div|\|)", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\[])")
_MAX_SUMMARY_CHARS = 600
_MAX_SENTENCE_CHARS = 160
_NAME_ONLY = "(its context is left out to fit the prompt)"


def frame_summary(frame: str) -> str:
    """What a frame says of itself in brief: its declared summary section, or else its
    first paragraph of prose (not a heading, badge line or table)."""
    paragraphs = _paragraphs(frame)
    for index, paragraph in enumerate(paragraphs):
        if _SUMMARY_HEADING.match(paragraph) and index + 1 < len(paragraphs):
            return _clip(paragraphs[index + 1], _MAX_SUMMARY_CHARS)
    for paragraph in paragraphs:
        if not _HEADING.match(paragraph) and not _NOISE.match(paragraph):
            return _clip(paragraph, _MAX_SUMMARY_CHARS)
    return _clip(frame.strip(), _MAX_SUMMARY_CHARS)


def first_sentence(frame: str) -> str:
    """The first sentence of a frame's summary."""
    summary = frame_summary(frame)
    return _clip(_SENTENCE.split(summary, maxsplit=1)[0], _MAX_SENTENCE_CHARS)


def fit_children(children: Sequence[Child], room: int) -> list[str] | None:
    """Blocks for every child within `room` tokens, saying as much of each as fits;
    None when not even their names fit.

    The longest block is shortened first, one step at a time, so that a few large
    frames do not cost every small one its text.
    """
    shorter: list[Callable[[str], str]] = [
        lambda frame: frame,
        frame_summary,
        first_sentence,
        lambda frame: _NAME_ONLY,
    ]

    def block(index: int, level: int) -> tuple[str, int]:
        path, node_type, frame = children[index]
        text = child_block(path, shorter[level](frame), node_type=node_type)
        return text, estimate_tokens(text) + 1

    blocks = [block(index, 0) for index in range(len(children))]
    levels = [0] * len(children)
    total = sum(tokens for _, tokens in blocks)
    # Largest first; (negated tokens, index) so that ties go in path order.
    heap = [(-tokens, index) for index, (_, tokens) in enumerate(blocks)]
    heapq.heapify(heap)
    while total > room and heap:
        _, index = heapq.heappop(heap)
        levels[index] += 1
        text, tokens = block(index, levels[index])
        total += tokens - blocks[index][1]
        blocks[index] = (text, tokens)
        if levels[index] < len(shorter) - 1:
            heapq.heappush(heap, (-tokens, index))
    return [text for text, _ in blocks] if total <= room else None


def _paragraphs(frame: str) -> list[str]:
    blocks = re.split(r"\n\s*\n", frame.strip())
    out: list[str] = []
    for block in blocks:
        lines = block.strip().splitlines()
        # A heading on the line above a paragraph is a paragraph of its own.
        if len(lines) > 1 and _HEADING.match(lines[0]):
            out += [lines[0], "\n".join(lines[1:])]
        elif block.strip():
            out.append(block.strip())
    return out


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut[: cut.rfind(" ")] if " " in cut else cut) + "…"
