"""The wire format of a prompt's content blocks (ARCHITECTURE section 5).

A user message starts with the agent's instructions, then content blocks
(a server that cuts a long prompt cuts content, not the task). A file node
sends its text in one `<file>` block; a directory sends each child's frame
in a `<child>` block, in path order, and an empty directory sends one
`<directory>` block that says so. A file's block may follow a `<surroundings>`
block: its directory, its siblings, what it imports and what imports it. Inside a block, a closing
tag of the block's own kind is escaped (`<\\/file>`), so a block always ends
at its first closing tag and parsing is unambiguous. The local provider reads
the blocks back; every other provider just sends them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape, unescape

_BLOCK = re.compile(
    r'<(?P<kind>file|child|directory|surroundings) path="(?P<path>[^"]*)"(?P<attrs>[^>]*)>\n'
    r"(?P<body>.*?)\n</(?P=kind)>",
    re.DOTALL,
)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
# The last line of a file block whose text was cut to fit starts with this.
TRUNCATION_MARKER = "[... truncated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One content block read back from a message."""

    kind: str
    path: str
    attributes: dict[str, str]
    body: str


def _attrs(attributes: dict[str, str]) -> str:
    return "".join(f' {key}="{escape(value, quote=True)}"' for key, value in attributes.items())


def _block(kind: str, path: str, body: str, attributes: dict[str, str]) -> str:
    body = body.replace(f"</{kind}>", f"<\\/{kind}>")
    return f'<{kind} path="{escape(path, quote=True)}"{_attrs(attributes)}>\n{body}\n</{kind}>'


def file_block(path: str, text: str, **attributes: str) -> str:
    """A file's text, delimited with its path."""
    return _block("file", path, text, attributes)


def child_block(path: str, text: str, **attributes: str) -> str:
    """A child's frame, delimited with the child's path."""
    return _block("child", path, text, attributes)


def directory_block(path: str, text: str, **attributes: str) -> str:
    """A note about a directory itself, such as that it is empty."""
    return _block("directory", path, text, attributes)


def surroundings_block(path: str, text: str) -> str:
    """Where the file at `path` sits in the workspace."""
    return _block("surroundings", path, text, {})


def parse_blocks(message: str) -> list[Block]:
    """Every content block of a message, in order."""
    blocks = []
    for match in _BLOCK.finditer(message):
        kind = match["kind"]
        attributes = {key: unescape(value) for key, value in _ATTR.findall(match["attrs"])}
        body = match["body"].replace(f"<\\/{kind}>", f"</{kind}>")
        blocks.append(
            Block(kind=kind, path=unescape(match["path"]), attributes=attributes, body=body)
        )
    return blocks
