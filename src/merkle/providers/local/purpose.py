"""What a directory is for, said from its children's frames alone.

In this order: the purpose its README states, the purpose its
`__init__.py` states (a Python package's docstring), or else what its
children say: the phrase most of them open with (`Lexers for Python`,
`Lexers for Ruby`, ... become `Lexers for Python, Ruby and 40 more.`), or
the purposes of its main children, quoted and named. A stated purpose too
short to say much (`Pygments lexers.`) is followed by that shared phrase.
When no child says what it is for, neither does the directory: nothing is
guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from merkle.providers.local.gist import Gist, shorten
from merkle.providers.local.outline import code
from merkle.providers.payload import Block
from merkle.tree.paths import name_of

_READMES = ("readme", "readme.md", "readme.rst", "readme.txt")
_PACKAGE_INIT = "__init__.py"
# The second word of an opening that children share (`Lexers for`, `Tests of`):
# what follows it names what each child is about.
_LINKING_WORDS = frozenset(
    {"for", "of", "to", "from", "with", "in", "on", "over", "around", "about", "that", "which"}
)
_SEPARATORS = (",", ";", ":", ".", " and ", " or ", " (", " - ", " — ", " \u2013 ")
_MIN_SHARED = 3
_SHOWN_TOPICS = 4
_MAIN_CHILDREN = 3
_MAX_QUOTE_CHARS = 100
_SHORT_STATED_CHARS = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class _Said:
    """A child that says what it is for."""

    name: str
    purpose: str
    is_directory: bool
    size: int


def directory_purpose(children: Sequence[Block], gists: Sequence[Gist]) -> str | None:
    """What the directory of `children` is for, or None when none of them says."""
    said = [
        _Said(
            name=display_name(child),
            purpose=gist.purpose,
            is_directory=is_directory(child),
            size=len(child.body),
        )
        for child, gist in zip(children, gists, strict=True)
        if gist.purpose and name_of(child.path).lower() not in (*_READMES, _PACKAGE_INIT)
    ]
    shared = _shared_opening(said)
    stated = _stated(children, gists)
    if stated is None:
        return shared or _main_children(said)
    # "Pygments lexers." says little alone; what the modules share says more.
    if shared and len(stated) < _SHORT_STATED_CHARS:
        return f"{stated} {shared}"
    return stated


def _stated(children: Sequence[Block], gists: Sequence[Gist]) -> str | None:
    """The purpose the directory's README, or else its `__init__.py`, states."""
    by_name = {
        name_of(child.path).lower(): gist
        for child, gist in zip(children, gists, strict=True)
        if not is_directory(child)
    }
    for name in (*_READMES, _PACKAGE_INIT):
        gist = by_name.get(name)
        if gist is not None and gist.lead:
            return gist.lead
    return None


def is_directory(child: Block) -> bool:
    """Whether the child block is a directory's frame."""
    return child.attributes.get("node_type") == "directory"


def display_name(child: Block) -> str:
    """The child's name, with a `/` after a directory's."""
    return name_of(child.path) + ("/" if is_directory(child) else "")


def _shared_opening(said: list[_Said]) -> str | None:
    """`Lexers for A, B and N more.` when most children open with `Lexers for`."""
    openings = Counter(opening for opening in map(_opening, said) if opening)
    if not openings:
        return None
    shared, count = openings.most_common(1)[0]
    if count < max(_MIN_SHARED, len(said) / 2):
        return None
    group = [one for one in said if _opening(one) == shared]
    # The wording most of them use (`Lexers for` over `Lexer for`).
    words = Counter(" ".join(one.purpose.split()[:2]) for one in group).most_common(1)[0][0]
    topics = list(dict.fromkeys(filter(None, (_topic(one.purpose) for one in group))))
    if len(topics) < 2:
        return None
    shown = topics[:_SHOWN_TOPICS]
    hidden = len(topics) - len(shown)
    listed = ", ".join(shown[:-1]) + (", " if hidden else " and ") + shown[-1]
    return f"{words} {listed}" + (f" and {hidden} more." if hidden else ".")


def _opening(one: _Said) -> str | None:
    words = one.purpose.split()[:3]
    if len(words) < 3 or not words[0].isalpha() or words[1].lower() not in _LINKING_WORDS:
        return None
    # `Lexer for` and `Lexers for` open the same way.
    return f"{words[0].lower().removesuffix('s')} {words[1].lower()}"


def _topic(purpose: str) -> str | None:
    """What follows a purpose's first two words, up to the end of that phrase."""
    rest = purpose.split(maxsplit=2)[2] if len(purpose.split()) > 2 else ""
    ends = [index for index in (rest.find(mark) for mark in _SEPARATORS) if index > 0]
    topic = rest[: min(ends)] if ends else rest.rstrip(".!?")
    return shorten(topic, 40) if topic.strip() else None


def _main_children(said: list[_Said]) -> str | None:
    """`Includes `a/` (what a/ says) and `b/` (what b/ says).` for the main few:
    the subdirectories when some say what they are for, else the files with the
    most to say. A purpose two children share is quoted once."""
    if not said:
        return None
    directories = [one for one in said if one.is_directory]
    pool = directories or said
    distinct = list({one.purpose: one for one in reversed(pool)}.values())
    ranked = sorted(distinct, key=lambda one: -one.size)[:_MAIN_CHILDREN]
    chosen = [one for one in pool if any(one is other for other in ranked)]
    quoted = [
        f"{code(one.name)} ({shorten(one.purpose.rstrip('.'), _MAX_QUOTE_CHARS)})" for one in chosen
    ]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return f"Includes {listed}."
