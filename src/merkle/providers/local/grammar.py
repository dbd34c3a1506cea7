"""What the tree-sitter outliner needs to know about one language: a `Grammar`.

A grammar names the node types that declare things, the kind each one is,
which nodes are read through (namespaces, preprocessor blocks), and small
functions for what differs between languages: which declarations are public,
what an import names, where a type's members are. `languages` holds one
`Grammar` per language; the defaults here fit most of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from merkle.providers.local.declarations import CONTAINER, Kind
from merkle.providers.local.syntax import body_of, name_of, signature_of, text_of

if TYPE_CHECKING:
    from tree_sitter import Node

_MODIFIER_TYPES = frozenset(
    {
        "accessibility_modifier",
        "modifier",
        "modifiers",
        "storage_class_specifier",
        "visibility_modifier",
        "final_modifier",
        "abstract_modifier",
        "static_modifier",
    }
)
_MAX_STRING_DEPTH = 6
_STRING_TYPES = frozenset(
    {"string", "interpreted_string_literal", "raw_string_literal", "string_literal"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """What is known of the whole file when one declaration is judged public.

    `exported` holds the names a JavaScript module exports, or `None` when it
    exports nothing (a script, whose every declaration is public); `header`
    says the file is a C or C++ header, whose `static inline` functions are
    part of its interface.
    """

    exported: frozenset[str] | None = None
    header: bool = False


def classify_by_table(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    """The kind the table gives `node`'s type, or `None` for a node that declares nothing."""
    return table.get(node.type)


def public_by_default(node: Node, name: str, scope: Scope) -> bool:
    """Every top-level declaration is public."""
    return True


def member_public_unless_private(node: Node, name: str, default: bool) -> bool:
    """A member is public unless marked `private` (or `fileprivate`)."""
    return not (modifiers_of(node) & {"private", "fileprivate"})


def member_public_as_marked(node: Node, name: str, default: bool) -> bool:
    """A member is public when the access section it sits in is (C++, Ruby)."""
    return default


def all_members_public(container: Node) -> bool:
    """The default visibility of members before any modifier: public."""
    return True


def no_access_marker(node: Node) -> bool | None:
    """No member changes the visibility of the members after it."""
    return None


def imports_without_keyword(node: Node) -> list[str]:
    """An import as written, without its keyword and semicolon: `java.util.List`."""
    words = text_of(node).strip().removesuffix(";").split(None, 1)
    return [" ".join(words[1].split())] if len(words) == 2 else []


def quoted_strings(node: Node) -> list[str]:
    """The string literals inside `node`, without their quotes: what `require` loads."""
    found: list[str] = []
    stack = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        if current.type in _STRING_TYPES:
            found.append(text_of(current).strip("'\"`"))
        elif depth < _MAX_STRING_DEPTH:
            stack.extend((child, depth + 1) for child in reversed(current.named_children))
    return found


def modifiers_of(node: Node) -> set[str]:
    """The modifier words of a declaration: `public`, `static`, `pub(crate)`."""
    words: set[str] = set()
    for child in node.children:
        if child.type in _MODIFIER_TYPES:
            words.update(text_of(child).split())
    return words


@dataclass(frozen=True, slots=True, kw_only=True)
class Grammar:
    """How the tree-sitter outliner reads one language."""

    name: str
    """The grammar's name in the language pack."""
    label: str
    sections: tuple[Kind, ...]
    declarations: Mapping[str, Kind]
    """Top-level node type to kind; `CONTAINER` nodes are read through."""
    members: Mapping[str, Kind] = field(default_factory=dict)
    """Node type inside a type's body to kind."""
    wrappers: frozenset[str] = frozenset()
    """Nodes that wrap one declaration (`export`, `template<>`): shown whole, read inside."""
    headers: frozenset[str] = frozenset()
    """Nodes whose signature is the file's header fact (`package x`, `namespace y`)."""
    splits: Mapping[str, str] = field(default_factory=dict)
    """Grouped declarations (`const (...)`) to the child type of each one."""
    classify: Callable[[Node, Mapping[str, Kind], bool], Kind | None] = classify_by_table
    """Refines the table's kind by what the node holds; told whether it is a member."""
    public: Callable[[Node, str, Scope], bool] = public_by_default
    member_default: Callable[[Node], bool] = all_members_public
    member_public: Callable[[Node, str, bool], bool] = member_public_unless_private
    access: Callable[[Node], bool | None] = no_access_marker
    imports: Callable[[Node], list[str]] = imports_without_keyword
    signature: Callable[[Node], str] = signature_of
    naming: Callable[[Node], str | None] = name_of
    body: Callable[[Node], Node | None] = body_of
    docstrings: bool = False
    """Whether a body opening with a string documents its declaration (Python)."""
    receiver: Callable[[Node], str | None] | None = None
    """For Go: the type a method's receiver names, so it is listed under that type."""
    exported: Callable[[Node], frozenset[str] | None] | None = None
    """For JavaScript: the names the module exports, read from its root."""

    def kind_of(self, node: Node, *, member: bool = False) -> Kind | None:
        """The kind of declaration `node` is, at the top level or as a member."""
        return self.classify(node, self.members if member else self.declarations, member)

    def reads_through(self, node: Node, *, member: bool = False) -> bool:
        """Whether `node` is a container whose children are read at its own level."""
        return self.kind_of(node, member=member) is CONTAINER
