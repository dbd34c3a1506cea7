"""The summary of a directory, composed from its children's frames.

The local provider never sees a directory's files, only the frames its
children already have (written by this provider or any other). The summary
opens with what the directory is for (`merkle.providers.local.purpose`),
then says what it holds (counts, main languages), then names every child in
path order with its one-line purpose (`merkle.providers.local.gist`).

Every child is named, within the answer's size: purposes are shortened
first, then the last children are named without one, then all of them are;
then names drop the extension most of them share. Only when even that does
not fit are the last names counted instead, never cut half way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from merkle.providers.local.formats import extension_of, language_of
from merkle.providers.local.gist import Gist, read_gist, shorten
from merkle.providers.local.outline import code, plural
from merkle.providers.local.purpose import directory_purpose, display_name, is_directory
from merkle.providers.payload import Block
from merkle.tree.paths import ROOT, parent_of

NO_LIMIT = 1 << 30
_MAX_PURPOSE_CHARS = 200
_MIN_PURPOSE_CHARS = 40
# The first children's purposes when the rest are named without: fewer, but
# long enough to say something.
_LEADING_PURPOSE_CHARS = 60
_SHORT_PURPOSE_CHARS = 120
_MAX_LANGUAGES = 3
_EMPTY = "(its context is empty)"


def summarise_directory(children: list[Block], *, max_chars: int = NO_LIMIT) -> str:
    """The Markdown summary of the directory whose children's frames are `children`,
    naming every child in at most `max_chars` characters (as far as names fit)."""
    path = _directory_path(children)
    gists = [read_gist(child.body) for child in children]
    purpose = directory_purpose(children, gists)
    title = f"# {code(path + '/' if path != ROOT else path)}\n\n"
    contents = _contents(children) + "\n\n"
    head = ""
    # A shorter purpose leaves room for names that would not fit otherwise.
    for said in dict.fromkeys((purpose, purpose and shorten(purpose, _SHORT_PURPOSE_CHARS))):
        head = title + (f"{said}\n\n" if said else "") + contents
        listing = _listing(children, gists, room=max_chars - len(head) - 1)
        if listing is not None:
            return head + listing + "\n"
    return head + _some_names(children, room=max_chars - len(head) - 1) + "\n"


def _listing(children: Sequence[Block], gists: Sequence[Gist], *, room: int) -> str | None:
    """Every child with its purpose, or the first ones with and the rest without,
    or all by name; None when not even every name fits in `room` characters."""
    width = _widest(children, gists, room=room)
    if width is not None:
        return "\n".join(_child_line(c, g, width) for c, g in zip(children, gists, strict=True))
    return _lines_then_names(children, gists, room=room) or _stems(children, room=room)


def _widest(children: Sequence[Block], gists: Sequence[Gist], *, room: int) -> int | None:
    """The longest a purpose may be for every child's line to fit in `room`, or None
    below `_MIN_PURPOSE_CHARS`. Purposes shorter than that width stay whole."""

    def size(width: int) -> int:
        lines = (_child_line(c, g, width) for c, g in zip(children, gists, strict=True))
        return sum(len(line) + 1 for line in lines) - 1

    if size(_MIN_PURPOSE_CHARS) > room:
        return None
    low, high = _MIN_PURPOSE_CHARS, _MAX_PURPOSE_CHARS
    # The size grows with the width, so the widest that fits is found by halving.
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if size(middle) <= room else (low, middle - 1)
    return low


def _lines_then_names(children: Sequence[Block], gists: Sequence[Gist], *, room: int) -> str | None:
    """The first children with their purpose, as many as fit, then the rest by name."""
    pairs = zip(children, gists, strict=True)
    lines = [_child_line(child, gist, _LEADING_PURPOSE_CHARS) for child, gist in pairs]
    names = [code(display_name(child)) for child in children]
    # `fixed[k]`: the first k children as lines; `rest[k]`: the others by name.
    fixed = [0]
    for line in lines:
        fixed.append(fixed[-1] + len(line) + 1)
    rest = [0] * (len(names) + 1)
    for index in range(len(names) - 1, -1, -1):
        rest[index] = rest[index + 1] + len(names[index]) + 2
    # All of them with a line is what `_widest` tried: here at least one has none.
    for shown in range(len(children) - 1, -1, -1):
        label = _names_label(shown)
        if fixed[shown] + len(label) + rest[shown] - 2 <= room:
            return "\n".join([*lines[:shown], label + ", ".join(names[shown:])])
    return None


def _names_label(shown: int) -> str:
    return "- also: " if shown else "Children: "


def _stems(children: Sequence[Block], *, room: int) -> str | None:
    """Every child by name, without the extension most files share."""
    label, names = _stem_names(children)
    text = label + ", ".join(names)
    return text if len(text) <= room else None


def _stem_names(children: Sequence[Block]) -> tuple[str, list[str]]:
    extensions = Counter(extension_of(c.path) for c in children if not is_directory(c))
    common = max(extensions, key=lambda ext: (extensions[ext], ext), default="")
    if not common:
        return _names_label(0), [code(display_name(child)) for child in children]
    names = [
        code(name.removesuffix(common) if not is_directory(child) else name)
        for child in children
        for name in [display_name(child)]
    ]
    return f"Children (named without their {code(common)}): ", names


def _some_names(children: Sequence[Block], *, room: int) -> str:
    """As many names as fit, in order, then a count of the others."""
    label, names = _stem_names(children)
    text = label.rstrip()
    # Room for the count however many are left: it is never longer than this.
    reserve = len(f" and {plural(len(names), 'more child', 'more children')}")
    for position, name in enumerate(names):
        if len(text) + 2 + len(name) + reserve > room:
            hidden = len(names) - position
            return f"{text} and {plural(hidden, 'more child', 'more children')}"
        text += (" " if position == 0 else ", ") + name
    return text


def _child_line(child: Block, gist: Gist, width: int) -> str:
    name = f"- {code(display_name(child))}"
    if gist.line:
        return f"{name}: {shorten(gist.line, width)}"
    # A frame left out to fit the prompt gives only its name.
    return name if gist.left_out else f"{name}: {_EMPTY}"


def _directory_path(children: list[Block]) -> str:
    parents = sorted({parent_of(child.path) or ROOT for child in children})
    # Children of one directory share their parent; anything else is named as
    # it came, rather than guessed at.
    return parents[0] if len(parents) == 1 else ", ".join(parents)


def _contents(children: list[Block]) -> str:
    files = [child for child in children if not is_directory(child)]
    directories = len(children) - len(files)
    counts = [plural(len(files), "file")] if files else []
    counts += [plural(directories, "subdirectory", "subdirectories")] if directories else []
    summary = "Holds " + (" and ".join(counts) if counts else "nothing")
    languages = Counter(language_of(child.path) or "other" for child in files)
    if languages:
        # Files of no known language say least about the directory: they go last.
        ranked = sorted(languages.items(), key=lambda item: (item[0] == "other", -item[1], item[0]))
        shown = ", ".join(f"{name} ({count})" for name, count in ranked[:_MAX_LANGUAGES])
        summary += f"; mainly {shown}"
    return summary + "."
