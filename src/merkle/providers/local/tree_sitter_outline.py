"""Outlines of source code read with a tree-sitter parser.

The grammars are compiled into the `tree-sitter-language-pack` wheel, so
nothing is ever downloaded. tree-sitter is imported the first time a file
needs it, never at start-up. The parser recovers from errors, so a file that
is partly broken still gets an outline of what parses, with a note saying
where it stopped making sense.

The outline leads with the file's interface: public declarations with their
signatures as written and the first sentence of their doc comments, types
with their public members, then private names, then imports.
"""

from __future__ import annotations

import functools
import posixpath
import re
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, cast

from merkle.providers.local.c_family import is_header
from merkle.providers.local.code_outline import header_fact
from merkle.providers.local.declarations import (
    CONSTANTS,
    CONTAINER,
    ENUM_MEMBERS,
    EXPORTS,
    FIELDS,
    IMPORTS,
    INCLUDES,
    METHODS,
    SOURCED,
    TYPES,
    USES,
    Declaration,
    Kind,
    count_kinds,
    defines_sentence,
    sections_of,
)
from merkle.providers.local.formats import Format
from merkle.providers.local.grammar import Grammar, Scope
from merkle.providers.local.languages import grammar_for
from merkle.providers.local.outline import Outline, Section, code, count_lines, plural
from merkle.providers.local.prose import docstring_summary, first_sentence
from merkle.providers.local.syntax import (
    body_of,
    clean_signature,
    comment_text,
    doc_of,
    is_comment,
    leading_comments,
    name_of,
    text_of,
)
from merkle.providers.local.text_outline import opening_lines

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Point
    from tree_sitter_language_pack import SupportedLanguage

PARSE_BUDGET_S = 1.0
"""How long one file may take to parse; a normal 100 KB file takes about 10 ms."""

_READ_BYTES = 1 << 16
_MAX_DEPTH = 8
_MAX_NODES = 20_000
_MAX_MEMBER_DEPTH = 3
_IMPORT_KINDS = (IMPORTS, USES, INCLUDES, SOURCED)
_ALWAYS_PUBLIC = (*_IMPORT_KINDS, EXPORTS)
# Nodes before a file's header comment that are not code: PHP's `<?php` and
# the HTML around it.
_PREAMBLE = frozenset({"php_tag", "text"})
_ANONYMOUS = "(anonymous)"
_QUOTES = re.compile(r"""^[rRbBuUfF]*(\"{3}|'{3}|"|')|(\"{3}|'{3}|"|')$""")
_WORDS = re.compile(r"[^a-z0-9]+")
_NAMED_PREFIX = re.compile(r"^\s*(-+|:|—)\s+(?=\w)")


def outline_tree(path: str, text: str, *, language: Format, note_errors: bool = True) -> Outline:
    """The outline of a source file in `language`, read by its tree-sitter grammar.

    Raises `NoGrammar` when no grammar reads `language`; any error of the
    parser itself propagates, for the caller to fall back on. `note_errors`
    says whether to note where the text stops parsing (not for a text cut
    short, whose end never parses).
    """
    grammar = grammar_for(language, path, text)
    if grammar is None:
        raise NoGrammar(f"no tree-sitter grammar reads {language.value}")
    root = parse(grammar.name, text)
    exported = grammar.exported(root) if grammar.exported is not None else None
    reading = _Reading(grammar=grammar, scope=Scope(exported=exported, header=is_header(path)))
    declarations = _attach_to_owners(_distinct(reading.top_level(root.children, depth=0)))
    notes: tuple[str, ...] = ()
    if reading.broken_at is not None and note_errors:
        notes = (
            f"part of it does not parse as {language.value} (from line {reading.broken_at}), "
            "so the outline may miss declarations there.",
        )
    sections = sections_of(declarations, grammar.sections)
    if not any(section.items for section in sections):
        sections = (Section(title="First lines", items=opening_lines(text.splitlines())),)
    return Outline(
        summary=_summary(path, root, declarations, grammar),
        facts=_facts(text, declarations, grammar, reading, language=language),
        sections=sections,
        notes=notes,
    )


@functools.cache
def _language(name: str) -> Language:
    # Imported here rather than at the top: loading tree-sitter and its
    # grammars costs tens of milliseconds that a run with no source file in
    # another language than Python should not pay.
    from tree_sitter_language_pack import get_language

    try:
        return get_language(cast("SupportedLanguage", name))
    except LookupError as error:
        raise NoGrammar(f"the language pack has no grammar {name!r}") from error


class NoGrammar(LookupError):
    """No bundled tree-sitter grammar reads this language."""


class ParserGaveUp(RuntimeError):
    """The parser ran past its time budget; `str()` says so, for a note."""


def parse(grammar: str, text: str) -> Node:
    """The root of the syntax tree of `text` in the named grammar.

    Raises `ParserGaveUp` past `PARSE_BUDGET_S`: error recovery in some
    grammars grows faster than linearly on text unlike the language.
    """
    from tree_sitter import Parser  # imported on first use, as in `_language`

    data = text.encode("utf-8", "replace")
    deadline = time.monotonic() + PARSE_BUDGET_S

    def read(offset: int, _point: Point) -> bytes:
        return data[offset : offset + _READ_BYTES]

    def past_deadline(_offset: int, _has_error: bool) -> bool:
        return time.monotonic() > deadline

    parser = Parser(_language(grammar))
    try:
        # Only a parse from a callback can be stopped; its tree reads every
        # node's text back through the callback, so it is parsed once more
        # from the bytes, reusing the whole first tree (well under 1 ms).
        bounded = parser.parse(read, progress_callback=past_deadline)
    except ValueError as error:
        if time.monotonic() > deadline:
            raise ParserGaveUp(
                f"the parser gave up on this file after {PARSE_BUDGET_S:g} s"
            ) from error
        raise
    return parser.parse(data, old_tree=bounded).root_node


@dataclass(slots=True, kw_only=True)
class _Reading:
    grammar: Grammar
    scope: Scope
    header: str | None = None
    broken_at: int | None = None
    visited: int = 0
    seen_imports: set[tuple[str, str]] = field(default_factory=set)

    def top_level(self, nodes: list[Node], *, depth: int) -> list[Declaration]:
        found: list[Declaration] = []
        for node in nodes:
            self.visited += 1
            if self.visited > _MAX_NODES or not node.is_named or is_comment(node):
                continue
            if node.type in self.grammar.headers and self.header is None:
                self.header = self.grammar.signature(node)
            if node.is_error or node.is_missing:
                self.broken_at = self.broken_at or node.start_point.row + 1
            if depth < _MAX_DEPTH and node.is_error:
                # What parses inside an error is read at this level, but a
                # variable there is most likely a local of a broken function.
                inside = self.top_level(_container_children(node), depth=depth + 1)
                found.extend(d for d in inside if d.kind is not CONSTANTS)
            elif depth < _MAX_DEPTH and self.grammar.reads_through(node):
                found.extend(self.top_level(_container_children(node), depth=depth + 1))
            elif node.type in self.grammar.splits:
                found.extend(self._split(node))
            else:
                found.extend(self.declaration(node, member=False, default=True, depth=0))
        return found

    def declaration(
        self, outer: Node, *, member: bool, default: bool, depth: int
    ) -> list[Declaration]:
        inner, kind = self._unwrapped(outer, member=member)
        if kind is None or kind is CONTAINER:
            return []
        if kind in _IMPORT_KINDS:
            return self._imports(inner, kind)
        name = self.grammar.naming(inner) or _ANONYMOUS
        if kind is FIELDS:
            return self._fields(outer, inner, member=member, default=default)
        return [
            Declaration(
                kind=kind,
                name=name,
                signature=self._signature(outer, kind),
                doc=self._doc(outer, inner),
                public=self._public(outer, name, kind, member=member, default=default),
                members=self.members(inner, depth=depth + 1) if not _is_leaf(kind) else (),
                owner=self.grammar.receiver(inner) if self.grammar.receiver else None,
            )
        ]

    def members(self, node: Node, *, depth: int) -> tuple[Declaration, ...]:
        body = self.grammar.body(node)
        if body is None or depth > _MAX_MEMBER_DEPTH:
            return ()
        return tuple(self._member_list(body.children, self.grammar.member_default(node), depth))

    def _member_list(self, nodes: list[Node], default: bool, depth: int) -> list[Declaration]:
        found: list[Declaration] = []
        for child in nodes:
            self.visited += 1
            toggled = self.grammar.access(child)
            if toggled is not None:
                default = toggled
            elif self.visited > _MAX_NODES or not child.is_named or is_comment(child):
                continue
            elif self.grammar.reads_through(child, member=True):
                found.extend(self._member_list(_container_children(child), default, depth))
            else:
                found.extend(self.declaration(child, member=True, default=default, depth=depth))
        return found

    def _unwrapped(self, outer: Node, *, member: bool) -> tuple[Node, Kind | None]:
        if outer.type in self.grammar.wrappers:
            for inner in _wrapped(outer):
                kind = self.grammar.kind_of(inner, member=member)
                if kind is not None:
                    return inner, kind
        return outer, self.grammar.kind_of(outer, member=member)

    def _fields(
        self, outer: Node, inner: Node, *, member: bool, default: bool
    ) -> list[Declaration]:
        # `size_t head, tail;` declares two fields; most grammars name one.
        declarators = inner.children_by_field_name("declarator")
        names = [name_of(d) for d in declarators] if len(declarators) > 1 else []
        found = [name for name in names if name] or [self.grammar.naming(inner) or _ANONYMOUS]
        return [
            Declaration(
                kind=FIELDS,
                name=name,
                signature=name,
                public=self._public(outer, name, FIELDS, member=member, default=default),
            )
            for name in found
        ]

    def _signature(self, outer: Node, kind: Kind) -> str:
        # An export list is its own signature: `export { a as b }` in full.
        return clean_signature(text_of(outer)) if kind is EXPORTS else self.grammar.signature(outer)

    def _public(self, outer: Node, name: str, kind: Kind, *, member: bool, default: bool) -> bool:
        if kind in _ALWAYS_PUBLIC or kind is ENUM_MEMBERS:
            return True
        if member:
            return self.grammar.member_public(outer, name, default)
        return self.grammar.public(outer, name, self.scope)

    def _doc(self, outer: Node, inner: Node) -> str | None:
        doc = doc_of(leading_comments(outer))
        if doc is None and self.grammar.docstrings:
            doc = _docstring(self.grammar.body(inner))
        return doc

    def _imports(self, node: Node, kind: Kind) -> list[Declaration]:
        found = []
        for name in self.grammar.imports(node):
            if name and (kind.title, name) not in self.seen_imports:
                self.seen_imports.add((kind.title, name))
                found.append(Declaration(kind=kind, name=name, signature=name))
        return found

    def _split(self, node: Node) -> list[Declaration]:
        # Go's `const ( a = 1; b = 2 )`: each spec is a declaration of its own.
        spec_type = self.grammar.splits[node.type]
        specs = [child for child in node.named_children if child.type == spec_type]
        for child in node.named_children:
            if child.type.endswith("_list"):
                specs.extend(c for c in child.named_children if c.type == spec_type)
        kind = self.grammar.kind_of(node)
        keyword = node.children[0].type if node.children else ""
        if kind is None:
            return []
        group_doc = doc_of(leading_comments(node)) if len(specs) == 1 else None
        found = []
        for spec in specs:
            name = self.grammar.naming(spec) or _ANONYMOUS
            found.append(
                Declaration(
                    kind=kind,
                    name=name,
                    signature=clean_signature(f"{keyword} {self.grammar.signature(spec)}"),
                    doc=doc_of(leading_comments(spec)) or group_doc,
                    public=self.grammar.public(spec, name, self.scope),
                    members=self.members(spec, depth=1),
                )
            )
        return found


def _wrapped(wrapper: Node) -> list[Node]:
    named = [wrapper.child_by_field_name(f) for f in ("declaration", "definition", "value")]
    fields = [node for node in named if node is not None]
    return fields or [child for child in wrapper.named_children if not is_comment(child)]


def _container_children(node: Node) -> list[Node]:
    body = body_of(node)
    if body is not None:
        return body.children
    named = node.named_children
    if len(named) == 1 and named[0].child_by_field_name("body") is not None:
        inner = named[0].child_by_field_name("body")
        return inner.children if inner is not None else []
    return node.children


def _is_leaf(kind: Kind) -> bool:
    return kind in _ALWAYS_PUBLIC


def _docstring(body: Node | None) -> str | None:
    string = next(iter(body.named_children), None) if body is not None else None
    if string is not None and string.type == "expression_statement" and string.named_children:
        string = string.named_children[0]
    if string is None or string.type != "string":
        return None
    summary = docstring_summary(_QUOTES.sub("", text_of(string)))
    return first_sentence(summary) if summary else None


def _distinct(declarations: list[Declaration]) -> list[Declaration]:
    """One entry per name: a C prototype and its definition, or the two arms
    of an `#ifdef`, declare one thing. The first with a doc comment is kept."""
    kept: dict[tuple[str, str, str | None], Declaration] = {}
    for declaration in declarations:
        named = declaration.kind not in _ALWAYS_PUBLIC and declaration.name != _ANONYMOUS
        key = (
            declaration.kind.title,
            declaration.name if named else declaration.signature,
            declaration.owner,
        )
        if key not in kept or (kept[key].doc is None and declaration.doc is not None):
            kept[key] = declaration
    return list(kept.values())


def _attach_to_owners(declarations: list[Declaration]) -> list[Declaration]:
    """Methods declared apart from their type, listed under it when it is in the file."""
    owned: dict[str, list[Declaration]] = {}
    for declaration in declarations:
        if declaration.owner is not None:
            owned.setdefault(declaration.owner, []).append(declaration)
    types = {d.name for d in declarations if d.kind is TYPES}
    result = []
    for declaration in declarations:
        if declaration.owner in types:
            continue
        if declaration.kind is TYPES and declaration.name in owned:
            members = (*declaration.members, *owned[declaration.name])
            declaration = replace(declaration, members=members)
        result.append(declaration)
    return result


def _summary(
    path: str, root: Node, declarations: list[Declaration], grammar: Grammar
) -> str | None:
    header = docstring_summary(comment_text(_header_comments(root)))
    if header is None and grammar.docstrings:
        header = _docstring(root)
    if header is not None:
        return _without_own_name(header, posixpath.basename(path))
    stem = _WORDS.sub("", posixpath.basename(path).partition(".")[0].lower())
    public = [d for d in declarations if d.public and d.kind.counted and d.doc]
    main = [d for d in public if _WORDS.sub("", d.name.lower()) == stem]
    if main or len(public) == 1:
        return (main or public)[0].doc
    return defines_sentence(declarations, grammar.sections)


def _without_own_name(summary: str, name: str) -> str:
    # `ring.c - a ring buffer of bytes`: the name is in the heading already.
    named = _NAMED_PREFIX.match(summary.removeprefix(name)) if summary.startswith(name) else None
    if named is None:
        return summary
    rest = summary[len(name) + named.end() :]
    return rest[:1].upper() + rest[1:]


def _header_comments(root: Node) -> list[Node]:
    comments: list[Node] = []
    for node in root.children:
        if is_comment(node):
            if not text_of(node).startswith("#!"):
                comments.append(node)
        elif not (node.type in _PREAMBLE or _is_directive_statement(node)):
            break
    return comments


def _is_directive_statement(node: Node) -> bool:
    # `'use strict';` opens a script before its header comment.
    named = node.named_children
    return node.type == "expression_statement" and len(named) == 1 and named[0].type == "string"


def _facts(
    text: str,
    declarations: list[Declaration],
    grammar: Grammar,
    reading: _Reading,
    *,
    language: Format,
) -> str:
    header = f", {code(reading.header)}" if reading.header else header_fact(language, text)
    counts = count_kinds(declarations)
    parts: list[str] = []
    if reading.scope.exported is not None:
        parts.append(plural(len(reading.scope.exported), "export"))
    ordered = [*grammar.sections, *(k for k in (METHODS, TYPES) if k not in grammar.sections)]
    ordered += [kind for kind in counts if kind not in ordered]
    parts += [plural(counts[kind], kind.noun, kind.plural) for kind in ordered if kind in counts]
    facts = f"{grammar.label}, {plural(count_lines(text), 'line')}{header}"
    return facts + (f": {', '.join(parts)}." if parts else ".")
