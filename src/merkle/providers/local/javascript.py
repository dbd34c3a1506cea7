"""How the tree-sitter outliner reads JavaScript and TypeScript modules.

A module's interface is what it exports: `export` declarations, the names in
`export { a as b }` and `export default x`, and CommonJS `module.exports`.
A module that exports nothing is a script, and all of it is public. A
`const` is listed when it is exported or named like a constant; a `const`
bound to a function is a function, one bound to `require(...)` an import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from merkle.providers.local.declarations import (
    CLASSES,
    CONSTANTS,
    CONTAINER,
    ENUM_MEMBERS,
    EXPORTS,
    FIELDS,
    FUNCTIONS,
    IMPORTS,
    METHODS,
    TYPES,
    Kind,
)
from merkle.providers.local.grammar import Scope, classify_by_table, quoted_strings
from merkle.providers.local.syntax import name_of, text_of

if TYPE_CHECKING:
    from tree_sitter import Node

JS_SECTIONS = (FUNCTIONS, CLASSES, TYPES, CONSTANTS, EXPORTS, IMPORTS)
JS_MEMBERS: Mapping[str, Kind] = {
    "method_definition": METHODS,
    "method_signature": METHODS,
    "abstract_method_signature": METHODS,
    "public_field_definition": FIELDS,
    "field_definition": FIELDS,
    "property_signature": FIELDS,
    "property_identifier": ENUM_MEMBERS,
    "enum_assignment": ENUM_MEMBERS,
}
_DECLARATIONS: Mapping[str, Kind] = {
    "function_declaration": FUNCTIONS,
    "generator_function_declaration": FUNCTIONS,
    "function_signature": FUNCTIONS,
    "function_expression": FUNCTIONS,
    "arrow_function": FUNCTIONS,
    "class_declaration": CLASSES,
    "abstract_class_declaration": CLASSES,
    "class": CLASSES,
    "interface_declaration": TYPES,
    "type_alias_declaration": TYPES,
    "enum_declaration": TYPES,
    "import_statement": IMPORTS,
    "export_statement": EXPORTS,
    "internal_module": CONTAINER,
    "module": CONTAINER,
}
_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_COMMONJS = re.compile(r"^(module\.)?exports\b")
_UPPER_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]+$")


def classify_js(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    """The kind of a JavaScript or TypeScript declaration, by what it binds."""
    if member:
        return classify_by_table(node, table, member)
    if node.type in ("lexical_declaration", "variable_declaration"):
        return _binding_kind(node)
    if node.type == "expression_statement":
        return _statement_kind(node)
    return _DECLARATIONS.get(node.type)


def _binding_kind(node: Node) -> Kind | None:
    declarator = next((c for c in node.named_children if c.type == "variable_declarator"), None)
    value = declarator.child_by_field_name("value") if declarator is not None else None
    if value is not None and value.type in _FUNCTION_VALUES:
        return FUNCTIONS
    if value is not None and _is_require(value):
        return IMPORTS
    if value is not None and value.type == "class":
        return CLASSES
    exported = node.parent is not None and node.parent.type == "export_statement"
    return CONSTANTS if exported or _UPPER_NAME.match(name_of(node) or "") else None


def _is_require(value: Node) -> bool:
    while value.type == "await_expression" and value.named_children:
        value = value.named_children[0]
    function = value.child_by_field_name("function")
    return (
        value.type == "call_expression"
        and function is not None
        and (text_of(function) in ("require", "import"))
    )


def _statement_kind(node: Node) -> Kind | None:
    inner = node.named_children[0] if node.named_children else None
    if inner is None:
        return None
    if inner.type in ("internal_module", "module"):
        return CONTAINER
    left = inner.child_by_field_name("left") if inner.type == "assignment_expression" else None
    return EXPORTS if left is not None and _COMMONJS.match(text_of(left)) else None


def js_public(node: Node, name: str, scope: Scope) -> bool:
    """Exported, or declared in a script that exports nothing."""
    if node.type in ("export_statement", "ambient_declaration"):
        return True
    return scope.exported is None or name in scope.exported


def js_member_public(node: Node, name: str, default: bool) -> bool:
    """Not `#private`, not `private`, not named `_like_this`."""
    accessibility = next(
        (text_of(c) for c in node.children if c.type == "accessibility_modifier"), ""
    )
    return accessibility != "private" and not name.startswith(("#", "_"))


def js_imports(node: Node) -> list[str]:
    """The module an `import` or `require` loads."""
    return quoted_strings(node)[:1]


def exported_names(root: Node) -> frozenset[str] | None:
    """The names a module exports, or `None` if it exports nothing."""
    names: set[str] = set()
    exports = False
    for child in root.named_children:
        if child.type == "export_statement":
            exports = True
            names.update(_names_of_export(child))
        elif child.type == "expression_statement" and _statement_kind(child) is EXPORTS:
            exports = True
            names.update(_names_of_commonjs(child.named_children[0]))
    return frozenset(names) if exports else None


def _names_of_export(node: Node) -> list[str]:
    declaration = node.child_by_field_name("declaration")
    if declaration is not None:
        declarators = [c for c in declaration.named_children if c.type == "variable_declarator"]
        return [name_of(d) or "" for d in declarators] or [name_of(declaration) or "default"]
    value = node.child_by_field_name("value")
    if value is not None:
        return [name_of(value) or "default"]
    specifiers = [
        specifier
        for clause in node.named_children
        if clause.type == "export_clause"
        for specifier in clause.named_children
    ]
    if specifiers:
        return [name_of(specifier) or text_of(specifier) for specifier in specifiers]
    return [" ".join(text_of(node).removeprefix("export").split()).removesuffix(";")]


def _names_of_commonjs(assignment: Node) -> list[str]:
    left = text_of(assignment.child_by_field_name("left") or assignment)
    right = assignment.child_by_field_name("right")
    member = _COMMONJS.sub("", left).lstrip(".")
    if member:
        return [member]
    if right is not None and right.type == "object":
        return [
            name_of(entry) or text_of(entry).split(":")[0].strip()
            for entry in right.named_children
            if entry.type in ("shorthand_property_identifier", "pair", "method_definition")
        ]
    return [text_of(right) if right is not None and right.type == "identifier" else left]
