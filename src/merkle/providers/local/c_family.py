"""How the tree-sitter outliner reads C and C++: declarators, `static`, access sections.

A C name sits deep in its declarator (`*f(int)` declares a function `f`), so
whether a declaration is a function or a variable is read from that chain.
A `static` function is private to its file, except in a header, where a
`static inline` one is part of the interface. C++ members are public or not
by the access section they sit in, and by whether their type is a `class` or
a `struct`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from merkle.providers.local.declarations import (
    CONSTANTS,
    CONTAINER,
    ENUM_MEMBERS,
    FIELDS,
    FUNCTIONS,
    INCLUDES,
    MACROS,
    METHODS,
    TYPES,
    Kind,
)
from merkle.providers.local.grammar import (
    Grammar,
    Scope,
    classify_by_table,
    member_public_as_marked,
    modifiers_of,
)
from merkle.providers.local.syntax import body_of, name_of, signature_of, text_of

if TYPE_CHECKING:
    from tree_sitter import Node

_HEADER_EXTENSIONS = frozenset({".h", ".hh", ".hpp", ".hxx", ".inl"})
_CPP_MARKERS = re.compile(r"^\s*(class|namespace|template)\b|::|\bpublic:|\bprivate:", re.M)


def is_header(path: str) -> bool:
    """Whether `path` is a C or C++ header, whose `static` functions are its interface."""
    return posixpath.splitext(path)[1].lower() in _HEADER_EXTENSIONS


def looks_like_cpp(text: str) -> bool:
    """Whether a header's text uses C++ (classes, namespaces, templates, `::`)."""
    return _CPP_MARKERS.search(text) is not None


def _declares_function(node: Node) -> bool:
    current: Node | None = node.child_by_field_name("declarator")
    for _ in range(6):
        if current is None:
            return False
        if current.type == "function_declarator":
            return True
        inner = current.child_by_field_name("declarator")
        if inner is None and current.type == "reference_declarator":
            # `double& at(...)`: a reference declarator holds its declarator unnamed.
            inner = next(iter(current.named_children), None)
        current = inner
    return False


def _classify_c(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    if node.type == "declaration" and not member:
        return FUNCTIONS if _declares_function(node) else CONSTANTS
    if node.type == "preproc_def" and _is_include_guard(node):
        return None
    return classify_by_table(node, table, member)


def _classify_cpp(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    if member and node.type in ("declaration", "field_declaration"):
        return METHODS if _declares_function(node) else FIELDS
    return _classify_c(node, table, member)


def _is_include_guard(node: Node) -> bool:
    parent = node.parent
    guarded = parent.child_by_field_name("name") if parent is not None else None
    return node.child_by_field_name("value") is None and (
        guarded is not None and text_of(guarded) == name_of(node)
    )


def _c_public(node: Node, name: str, scope: Scope) -> bool:
    return scope.header or "static" not in modifiers_of(node)


def _c_signature(node: Node) -> str:
    if node.type == "preproc_def":
        return name_of(node) or ""
    if node.type == "preproc_function_def":
        parameters = node.child_by_field_name("parameters")
        return (name_of(node) or "") + (text_of(parameters) if parameters else "")
    return signature_of(node)


def _c_body(node: Node) -> Node | None:
    # `typedef struct {...} name;`: the fields are the struct's, inside the typedef.
    if node.type == "type_definition":
        inner = node.child_by_field_name("type")
        return body_of(inner) if inner is not None else None
    return body_of(node)


def _c_include(node: Node) -> list[str]:
    path = node.child_by_field_name("path")
    return [text_of(path)] if path is not None else []


def _cpp_member_default(container: Node) -> bool:
    return container.type != "class_specifier"


def _cpp_access(node: Node) -> bool | None:
    if node.type != "access_specifier":
        return None
    return "private" not in text_of(node)


_C_TOP = {
    "function_definition": FUNCTIONS,
    "declaration": FUNCTIONS,
    "type_definition": TYPES,
    "struct_specifier": TYPES,
    "union_specifier": TYPES,
    "enum_specifier": TYPES,
    "preproc_def": MACROS,
    "preproc_function_def": MACROS,
    "preproc_include": INCLUDES,
    "preproc_if": CONTAINER,
    "preproc_ifdef": CONTAINER,
    "preproc_else": CONTAINER,
    "preproc_elif": CONTAINER,
    "linkage_specification": CONTAINER,
}
_C_SECTIONS = (TYPES, FUNCTIONS, CONSTANTS, MACROS, INCLUDES)
C_GRAMMAR = Grammar(
    name="c",
    label="C source",
    sections=_C_SECTIONS,
    declarations=_C_TOP,
    members={"field_declaration": FIELDS, "enumerator": ENUM_MEMBERS},
    classify=_classify_c,
    public=_c_public,
    imports=_c_include,
    signature=_c_signature,
    body=_c_body,
)
_CPP_MEMBERS = {
    "function_definition": METHODS,
    "declaration": METHODS,
    "field_declaration": FIELDS,
    "class_specifier": TYPES,
    "struct_specifier": TYPES,
    "enum_specifier": TYPES,
    "enumerator": ENUM_MEMBERS,
    "alias_declaration": TYPES,
}
CPP_GRAMMAR = Grammar(
    name="cpp",
    label="C++ source",
    sections=_C_SECTIONS,
    declarations={
        **_C_TOP,
        "class_specifier": TYPES,
        "alias_declaration": TYPES,
        "concept_definition": TYPES,
        "namespace_definition": CONTAINER,
    },
    members=_CPP_MEMBERS,
    wrappers=frozenset({"template_declaration"}),
    headers=frozenset({"namespace_definition"}),
    classify=_classify_cpp,
    public=_c_public,
    member_default=_cpp_member_default,
    member_public=member_public_as_marked,
    access=_cpp_access,
    imports=_c_include,
    signature=_c_signature,
    body=_c_body,
)
