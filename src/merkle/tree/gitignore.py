"""Git's ignore patterns, matched entry by entry as git itself matches them.

The walk asks about one entry at a time, after its directory was let in, so
a pattern applies to the entry itself and never through a parent: `!*/`
re-includes directories without re-including the files in them, and a file
is matched by a directory-only pattern never. As in git:

- a blank line or one starting with `#` is no pattern; trailing spaces are
  dropped unless escaped with `\\`; a leading `\\` makes `#` or `!` literal;
- `!` negates; a trailing `/` matches directories only;
- a pattern with a `/` before its end is matched against the path relative
  to the directory of its rule file (a leading `/` only anchors); one without
  is matched against the entry's name, at any depth;
- `*` and `?` do not match `/`; `[...]` is a class (`!` or `^` negates it);
  `**/` at the start, `/**` at the end and `/**/` in the middle match any
  number of directories.

A pattern git cannot use (an empty range such as `[z-a]`) raises
`InvalidPattern`; git skips such a pattern, and so does the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class InvalidPattern(ValueError):
    """A line that is not a pattern git can match with."""


@dataclass(frozen=True, slots=True)
class GitPattern:
    """One line of a rule file, compiled."""

    regex: re.Pattern[str]
    negated: bool
    directory_only: bool
    anchored: bool

    def matches(self, relative: str, *, is_dir: bool) -> bool:
        """Whether the entry at `relative` (to the rule file's directory) matches."""
        if self.directory_only and not is_dir:
            return False
        subject = relative if self.anchored else relative.rpartition("/")[2]
        return self.regex.fullmatch(subject) is not None


def parse_pattern(line: str) -> GitPattern | None:
    """The pattern of one rule-file line; None for a blank line or a comment."""
    text = _strip_trailing_spaces(line.rstrip("\r\n"))
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    if negated or (text.startswith("\\") and text[1:2] in ("!", "#")):
        text = text[1:]
    directory_only = text.endswith("/") and not text.endswith("\\/")
    if directory_only:
        text = text.rstrip("/")
    if not text:
        raise InvalidPattern("the pattern is empty")
    anchored = "/" in text
    text = text.removeprefix("/")
    try:
        regex = re.compile(_translate(text))
    except re.error as error:
        raise InvalidPattern(str(error)) from None
    return GitPattern(
        regex=regex, negated=negated, directory_only=directory_only, anchored=anchored
    )


def decide(patterns: list[GitPattern], relative: str, *, is_dir: bool) -> bool | None:
    """Whether the last pattern that matches ignores the entry (True), re-includes it
    (False), or None when no pattern matches."""
    for pattern in reversed(patterns):
        if pattern.matches(relative, is_dir=is_dir):
            return not pattern.negated
    return None


def _strip_trailing_spaces(text: str) -> str:
    stripped = text.rstrip(" ")
    if len(stripped) < len(text) and stripped.endswith("\\"):
        return stripped[:-1] + " "  # `\ ` keeps one escaped space
    return stripped


def _translate(glob: str) -> str:
    """The regular expression (for `fullmatch`) of a wildmatch glob."""
    out: list[str] = []
    index, size = 0, len(glob)
    while index < size:
        char = glob[index]
        if char == "\\" and index + 1 < size:
            out.append(re.escape(glob[index + 1]))
            index += 2
        elif char == "*" and glob.startswith("**", index):
            index = _globstar(glob, index, out)
        elif char == "*":
            out.append("[^/]*")
            index += 1
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[":
            index = _character_class(glob, index, out)
        else:
            out.append(re.escape(char))
            index += 1
    return "".join(out)


def _globstar(glob: str, index: int, out: list[str]) -> int:
    """`**` at `index`: any number of directories where a slash bounds it."""
    after = index + 2
    starts_segment = index == 0 or glob[index - 1] == "/"
    if starts_segment and glob[after : after + 1] == "/":
        out.append("(?:.*/)?")  # `**/`: zero or more leading directories
        return after + 1
    if starts_segment and after == len(glob):
        out.append(".*")  # `/**`: everything inside
        return after
    out.append("[^/]*")  # elsewhere `**` is a plain `*`
    return after


def _character_class(glob: str, index: int, out: list[str]) -> int:
    """`[...]` at `index`; an unclosed `[` is a literal character."""
    cursor = index + 1
    negate = glob[cursor : cursor + 1] in ("!", "^")
    cursor += negate
    members: list[str] = []
    while cursor < len(glob) and (glob[cursor] != "]" or not members):
        char = glob[cursor]
        if char == "\\" and cursor + 1 < len(glob):
            members.append(re.escape(glob[cursor + 1]))
            cursor += 2
            continue
        # `-` stays a range; what else is special inside a regex class is escaped.
        members.append(char if char == "-" else re.escape(char))
        cursor += 1
    if cursor >= len(glob):
        out.append(re.escape("["))
        return index + 1
    out.append(f"(?!/)[{'^' if negate else ''}{''.join(members)}]")
    return cursor + 1
