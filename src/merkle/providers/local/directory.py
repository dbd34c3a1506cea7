"""The summary of a directory, composed from its children's frames.

The local provider never sees a directory's files, only the frames its
children already have (written by this provider or any other). It says what
the directory holds (counts, main languages) and quotes, per child, the first
line of that child's frame that says something: headings, code fences, rules
and tables are skipped, and the line is cut at its first full sentence.
Every child is named, within the answer's size: lines are shortened first,
then the last children are listed by name only, never dropped half way.
"""

from __future__ import annotations

import re
from collections import Counter

from merkle.providers.local.formats import language_of
from merkle.providers.local.outline import clip, code, plural
from merkle.providers.payload import Block
from merkle.tree.paths import ROOT, name_of, parent_of

_MAX_LINE_CHARS = 200
_SHORTER_LINES = (200, 120, 80, 50)
NO_LIMIT = 1 << 30
_MAX_LANGUAGES = 3

_FENCE = re.compile(r"^(`{3,}|~{3,})")
_SKIPPED = re.compile(r"^(#|<!--|\||[-*_=](\s*[-*_=]){2,}\s*$|\[[^\]]+\]:)")
_MARKERS = re.compile(r"^(?:[-*+]\s+|\d+[.)]\s+|>\s*)+")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
# A sentence ends at `.`, `!` or `?` before a capital, unless it ends an
# abbreviation that usually runs on (`e.g. TOML`).
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)[.!?](?=\s+[A-Z`\"'(\[])")


def summarise_directory(children: list[Block], *, max_chars: int = NO_LIMIT) -> str:
    """The Markdown summary of the directory whose children's frames are `children`,
    naming every child in at most `max_chars` characters (as far as names fit)."""
    path = _directory_path(children)
    head = f"# {code(path + '/' if path != ROOT else path)}\n\n{_contents(children)}\n\n"
    room = max_chars - len(head) - 1
    for width in _SHORTER_LINES:
        bullets = "\n".join(_child_line(child, width) for child in children)
        if len(bullets) <= room:
            return head + bullets + "\n"
    return head + _compact(children, room) + "\n"


def _compact(children: list[Block], room: int) -> str:
    """As many children as fit with a line, then the rest by name, then a count."""
    lines: list[str] = []
    used = 0
    index = 0
    # Half the room for lines, the rest for the names of the others.
    while index < len(children):
        line = _child_line(children[index], _SHORTER_LINES[-1])
        if used + len(line) + 1 > room // 2:
            break
        lines.append(line)
        used += len(line) + 1
        index += 1
    names: list[str] = []
    for position, child in enumerate(children[index:], start=index):
        name = code(_name(child))
        rest = len(children) - position - 1
        tail = f" and {plural(rest, 'more child', 'more children')}" if rest else ""
        if used + len("- also: ") + len(", ".join([*names, name])) + len(tail) + 40 > room:
            hidden = len(children) - position
            names.append(f"and {plural(hidden, 'more child', 'more children')}")
            break
        names.append(name)
    if names:
        lines.append("- also: " + ", ".join(names))
    return "\n".join(lines)


def _name(child: Block) -> str:
    return name_of(child.path) + ("/" if _is_directory(child) else "")


def _directory_path(children: list[Block]) -> str:
    parents = sorted({parent_of(child.path) or ROOT for child in children})
    # Children of one directory share their parent; anything else is named as
    # it came, rather than guessed at.
    return parents[0] if len(parents) == 1 else ", ".join(parents)


def _is_directory(child: Block) -> bool:
    return child.attributes.get("node_type") == "directory"


def _contents(children: list[Block]) -> str:
    files = [child for child in children if not _is_directory(child)]
    directories = len(children) - len(files)
    counts = [plural(len(files), "file")] if files else []
    counts += [plural(directories, "subdirectory", "subdirectories")] if directories else []
    summary = "Holds " + (" and ".join(counts) if counts else "nothing")
    languages = Counter(language_of(child.path) or "other" for child in files)
    if languages:
        ranked = sorted(languages.items(), key=lambda item: (-item[1], item[0]))
        shown = ", ".join(f"{name} ({count})" for name, count in ranked[:_MAX_LANGUAGES])
        summary += f"; mainly {shown}"
    return summary + "."


def _child_line(child: Block, width: int = _MAX_LINE_CHARS) -> str:
    line = first_meaningful_line(child.body)
    said = clip(line, width) if line else "(its context is empty)"
    return f"- {code(_name(child))}: {said}"


def first_meaningful_line(frame: str) -> str | None:
    """The first line of `frame` that says something, cut at its first sentence."""
    fenced = False
    for raw in frame.splitlines():
        line = raw.strip()
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced or not line or _SKIPPED.match(line):
            continue
        text = _EMPHASIS.sub(r"\2", _MARKERS.sub("", line)).strip()
        if text:
            return clip(_first_sentence(text), _MAX_LINE_CHARS)
    return None


def _first_sentence(text: str) -> str:
    end = _SENTENCE_END.search(text)
    return text[: end.end()] if end else text
