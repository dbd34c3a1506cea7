"""The declarations a parser found in a source file, and how an outline lists them.

A `Declaration` is one named thing a file defines (a type, a function, an
import, a constant) with its signature as written, the first sentence of its
doc comment, whether it is part of the file's public interface, and its
members. Public items are listed in full, public first; private ones by name
only, at the end of their list, so an outline leads with what other code
uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from merkle.providers.local.outline import Section, code, join_names, plural

MAX_MEMBERS = 20
"""Members listed in full under one declaration before "and N more"."""

_MAX_DEPTH = 3
_DEFINES_LIMIT = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Kind:
    """A kind of declaration: its section title and the nouns that count it.

    Uncounted kinds (imports, constants) are listed but left out of the
    facts line, which counts only what a reader compares files by.
    """

    title: str
    noun: str
    plural: str
    counted: bool = True


TYPES = Kind(title="Types", noun="type", plural="types")
CLASSES = Kind(title="Classes", noun="class", plural="classes")
MODULES = Kind(title="Modules", noun="module", plural="modules")
FUNCTIONS = Kind(title="Functions", noun="function", plural="functions")
METHODS = Kind(title="Methods", noun="method", plural="methods")
IMPLEMENTATIONS = Kind(title="Implementations", noun="impl block", plural="impl blocks")
EXTENSIONS = Kind(title="Extensions", noun="extension", plural="extensions")
MACROS = Kind(title="Macros", noun="macro", plural="macros")
CONSTANTS = Kind(
    title="Constants and variables", noun="constant", plural="constants", counted=False
)
EXPORTED_VARIABLES = Kind(
    title="Exported variables", noun="exported variable", plural="exported variables"
)
EXPORTS = Kind(title="Exports", noun="export", plural="exports", counted=False)
IMPORTS = Kind(title="Imports", noun="import", plural="imports", counted=False)
USES = Kind(title="Uses", noun="use", plural="uses", counted=False)
INCLUDES = Kind(title="Includes", noun="include", plural="includes", counted=False)
SOURCED = Kind(title="Sourced files", noun="sourced file", plural="sourced files", counted=False)
FIELDS = Kind(title="fields", noun="field", plural="fields", counted=False)
ENUM_MEMBERS = Kind(title="members", noun="member", plural="members", counted=False)
MEMBER_CONSTANTS = Kind(title="constants", noun="constant", plural="constants", counted=False)
CONTAINER = Kind(title="", noun="", plural="", counted=False)
"""Not a declaration: a namespace or block whose contents are read as if at its level."""

_NESTED_TYPES = (TYPES, CLASSES, MODULES)
_LISTED_BY_NAME = (MEMBER_CONSTANTS, FIELDS, ENUM_MEMBERS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Declaration:
    """One thing a source file declares."""

    kind: Kind
    name: str
    signature: str
    doc: str | None = None
    public: bool = True
    members: tuple[Declaration, ...] = ()
    owner: str | None = None
    """The type a method belongs to when it is declared apart from it (Go's receivers)."""


def section_items(declarations: list[Declaration]) -> tuple[str, ...]:
    """The outline items of one section: public ones in full, then private names."""
    items: list[str] = []
    for declaration in declarations:
        if declaration.public:
            items.extend(declaration_items(declaration, depth=0))
    private = [declaration.name for declaration in declarations if not declaration.public]
    if private:
        items.append("private: " + join_names(private))
    return tuple(items)


def declaration_items(declaration: Declaration, *, depth: int = 0) -> list[str]:
    """A declaration's item and, indented below it, its members' items."""
    head = code(declaration.signature)
    if declaration.doc:
        head += f" — {declaration.doc}"
    if depth + 1 >= _MAX_DEPTH:
        return [head]
    return [head, *("  " + item for item in _member_items(declaration.members, depth))]


def _member_items(members: tuple[Declaration, ...], depth: int) -> list[str]:
    public = [member for member in members if member.public]
    items: list[str] = []
    for kind in _LISTED_BY_NAME:
        names = [member.name for member in public if member.kind is kind]
        if names:
            items.append(f"{kind.title}: " + join_names(names, limit=MAX_MEMBERS))
    shown = [member for member in public if member.kind not in _LISTED_BY_NAME]
    for member in shown[:MAX_MEMBERS]:
        items.extend(declaration_items(member, depth=depth + 1))
    if len(shown) > MAX_MEMBERS:
        items.append(f"and {plural(len(shown) - MAX_MEMBERS, 'more member')}")
    # Private fields are the type's own business; private methods are
    # named, as a reader looking for one would search for its name.
    private = [m.name for m in members if not m.public and m.kind not in _LISTED_BY_NAME]
    if private:
        items.append("private: " + join_names(private, limit=MAX_MEMBERS))
    return items


def count_kinds(declarations: list[Declaration]) -> dict[Kind, int]:
    """How many declarations of each counted kind, members included."""
    counts: dict[Kind, int] = {}
    stack = list(declarations)
    while stack:
        declaration = stack.pop()
        if declaration.kind.counted:
            counts[declaration.kind] = counts.get(declaration.kind, 0) + 1
        stack.extend(declaration.members)
    return counts


def defines_sentence(declarations: list[Declaration], order: tuple[Kind, ...]) -> str | None:
    """`Defines types A, B and functions f.`: the public names, for a file without a doc."""
    parts: list[str] = []
    for kind in order:
        if not kind.counted or kind is METHODS:
            continue
        names = [d.name for d in _public_of_kind(declarations, kind)]
        if names:
            noun = kind.noun if len(names) == 1 else kind.plural
            parts.append(f"{noun} {join_names(names, limit=_DEFINES_LIMIT)}")
    return f"Defines {' and '.join(parts[:2])}." if parts else None


def _public_of_kind(declarations: list[Declaration], kind: Kind) -> list[Declaration]:
    found = [d for d in declarations if d.public and d.kind is kind]
    if kind in _NESTED_TYPES:
        # A module or namespace-like type is a container: name what it holds too.
        for declaration in declarations:
            if declaration.public and declaration.kind in _NESTED_TYPES:
                found.extend(m for m in declaration.members if m.public and m.kind is kind)
    return found


def sections_of(declarations: list[Declaration], order: tuple[Kind, ...]) -> tuple[Section, ...]:
    """One section per kind in `order`, holding that kind's declarations."""
    return tuple(
        Section(title=kind.title, items=section_items([d for d in declarations if d.kind is kind]))
        for kind in order
    )
