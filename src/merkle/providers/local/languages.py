"""The grammar of every language the tree-sitter outliner reads, and its rules.

Each language says which node types declare what, what makes a declaration
public (an `export`, a capital letter, `pub`, no `private` or `static`), and
what its imports name. The rules follow each language's own convention, so
an outline lists what other code can use first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from merkle.providers.local.c_family import C_GRAMMAR, CPP_GRAMMAR, looks_like_cpp
from merkle.providers.local.declarations import (
    CLASSES,
    CONSTANTS,
    CONTAINER,
    ENUM_MEMBERS,
    EXPORTED_VARIABLES,
    EXTENSIONS,
    FIELDS,
    FUNCTIONS,
    IMPLEMENTATIONS,
    IMPORTS,
    MACROS,
    MEMBER_CONSTANTS,
    METHODS,
    MODULES,
    SOURCED,
    TYPES,
    USES,
    Kind,
)
from merkle.providers.local.formats import Format, extension_of
from merkle.providers.local.grammar import (
    Grammar,
    Scope,
    classify_by_table,
    member_public_as_marked,
    modifiers_of,
    quoted_strings,
)
from merkle.providers.local.javascript import (
    JS_MEMBERS,
    JS_SECTIONS,
    classify_js,
    exported_names,
    js_imports,
    js_member_public,
    js_public,
)
from merkle.providers.local.syntax import body_of, name_of, text_of

if TYPE_CHECKING:
    from tree_sitter import Node

_UPPER_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]+$")
_GO_RECEIVER = re.compile(r"\*?\s*([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*\)\s*$")


def _has_pub(node: Node, name: str, scope: Scope) -> bool:
    kinds_always_public = ("impl_item", "macro_definition", "foreign_mod_item")
    return node.type in kinds_always_public or any(
        child.type == "visibility_modifier" for child in node.children
    )


def _rust_member_default(container: Node) -> bool:
    # Trait items, enum variants and the methods of a trait impl are as
    # public as the trait or enum itself.
    if container.type == "impl_item":
        return container.child_by_field_name("trait") is not None
    return container.type in ("trait_item", "enum_item")


def _rust_member_public(node: Node, name: str, default: bool) -> bool:
    return default or any(child.type == "visibility_modifier" for child in node.children)


def _capitalised(node: Node, name: str, scope: Scope) -> bool:
    return name[:1].isupper()


def _go_member_public(node: Node, name: str, default: bool) -> bool:
    return name[:1].isupper()


def _go_body(node: Node) -> Node | None:
    # `type Pool struct {...}`: the fields sit in the struct type, not the spec.
    kind = node.child_by_field_name("type")
    if kind is None:
        return None
    if kind.type == "interface_type":
        return kind
    return body_of(kind)


def _go_receiver(node: Node) -> str | None:
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        return None
    found = _GO_RECEIVER.search(text_of(receiver))
    return found.group(1) if found else None


def _go_imports(node: Node) -> list[str]:
    return quoted_strings(node)


def _not_private(node: Node, name: str, scope: Scope) -> bool:
    return not (modifiers_of(node) & {"private", "fileprivate"})


def _csharp_member_default(container: Node) -> bool:
    return container.type == "interface_declaration"


def _csharp_member_public(node: Node, name: str, default: bool) -> bool:
    # C# members are private unless they say otherwise.
    words = modifiers_of(node)
    return "private" not in words and (default or bool(words & {"public", "protected", "internal"}))


def _ruby_access(node: Node) -> bool | None:
    if node.type == "identifier" and text_of(node) in ("private", "protected", "public"):
        return text_of(node) == "public"
    return None


def _classify_ruby(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    if node.type == "call":
        method = node.child_by_field_name("method")
        called = text_of(method) if method is not None else ""
        if called in ("require", "require_relative", "load") and not member:
            return IMPORTS
        if called.startswith("attr_") and member:
            return FIELDS
        return None
    if node.type == "assignment":
        left = node.child_by_field_name("left")
        if left is None or left.type != "constant":
            return None
        return MEMBER_CONSTANTS if member else CONSTANTS
    return classify_by_table(node, table, member)


def _ruby_name(node: Node) -> str | None:
    if node.type == "call":
        arguments = node.child_by_field_name("arguments")
        return text_of(arguments).replace(":", "") if arguments is not None else None
    if node.type == "singleton_method":
        return f"self.{name_of(node)}"
    return name_of(node)


def _classify_php(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    if node.type == "expression_statement":
        inner = node.named_children[0] if node.named_children else None
        if inner is not None and inner.type.startswith(("require", "include")):
            return IMPORTS
        return None
    return classify_by_table(node, table, member)


def _php_imports(node: Node) -> list[str]:
    if node.type == "expression_statement":
        return quoted_strings(node)
    return [" ".join(text_of(clause).split()) for clause in node.named_children]


def _classify_swift(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    if node.type == "class_declaration" and not member:
        declared = node.child_by_field_name("declaration_kind")
        return EXTENSIONS if declared is not None and text_of(declared) == "extension" else TYPES
    return classify_by_table(node, table, member)


def _classify_lua(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    if node.type == "variable_declaration":
        text = text_of(node)
        if "require" in text and quoted_strings(node):
            return IMPORTS
        return CONSTANTS if _UPPER_NAME.match(name_of(node) or "") else None
    if node.type == "assignment_statement":
        name = (name_of(node) or "").rpartition(".")[2]
        return CONSTANTS if _UPPER_NAME.match(name) else None
    return classify_by_table(node, table, member)


def _lua_public(node: Node, name: str, scope: Scope) -> bool:
    return not text_of(node).startswith("local")


def _classify_bash(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    if node.type == "declaration_command":
        keyword = node.children[0].type if node.children else ""
        return EXPORTED_VARIABLES if keyword == "export" else CONSTANTS
    if node.type == "command":
        command = node.child_by_field_name("name")
        return SOURCED if command is not None and text_of(command) in ("source", ".") else None
    return classify_by_table(node, table, member)


def _bash_signature(node: Node) -> str:
    return name_of(node) or text_of(node)


def _bash_sourced(node: Node) -> list[str]:
    arguments = node.children_by_field_name("argument")
    return [text_of(arguments[0])] if arguments else []


def _not_underscored(node: Node, name: str, scope: Scope) -> bool:
    return not name.startswith("_")


def _python_member_public(node: Node, name: str, default: bool) -> bool:
    return not name.startswith("_") or name in ("__init__", "__call__")


def _classify_python(node: Node, table: Mapping[str, Kind], member: bool) -> Kind | None:
    if node.type in ("expression_statement", "assignment"):
        assignment = node if node.type == "assignment" else next(iter(node.named_children), None)
        if assignment is None or assignment.type != "assignment":
            return None
        name = name_of(assignment) or ""
        if member:
            return FIELDS
        return CONSTANTS if _UPPER_NAME.match(name) else None
    return classify_by_table(node, table, member)


def _python_imports(node: Node) -> list[str]:
    module = node.child_by_field_name("module_name")
    if module is not None:
        return [text_of(module)]
    return [text_of(name).split(" as ")[0] for name in node.children_by_field_name("name")]


_JAVA_TYPES = {
    "class_declaration": TYPES,
    "interface_declaration": TYPES,
    "enum_declaration": TYPES,
    "record_declaration": TYPES,
    "annotation_type_declaration": TYPES,
}
_JAVA = Grammar(
    name="java",
    label="Java source",
    sections=(TYPES, IMPORTS),
    declarations={**_JAVA_TYPES, "import_declaration": IMPORTS},
    members={
        **_JAVA_TYPES,
        "method_declaration": METHODS,
        "constructor_declaration": METHODS,
        "compact_constructor_declaration": METHODS,
        "field_declaration": FIELDS,
        "constant_declaration": FIELDS,
        "enum_constant": ENUM_MEMBERS,
        "enum_body_declarations": CONTAINER,
    },
    headers=frozenset({"package_declaration"}),
)

_CSHARP_TYPES = {
    "class_declaration": TYPES,
    "struct_declaration": TYPES,
    "interface_declaration": TYPES,
    "enum_declaration": TYPES,
    "record_declaration": TYPES,
    "record_struct_declaration": TYPES,
    "delegate_declaration": TYPES,
}
_CSHARP = Grammar(
    name="csharp",
    label="C# source",
    sections=(TYPES, IMPORTS),
    declarations={
        **_CSHARP_TYPES,
        "using_directive": IMPORTS,
        "namespace_declaration": CONTAINER,
        "file_scoped_namespace_declaration": CONTAINER,
    },
    members={
        **_CSHARP_TYPES,
        "method_declaration": METHODS,
        "constructor_declaration": METHODS,
        "destructor_declaration": METHODS,
        "operator_declaration": METHODS,
        "conversion_operator_declaration": METHODS,
        "indexer_declaration": METHODS,
        "property_declaration": FIELDS,
        "field_declaration": FIELDS,
        "event_field_declaration": FIELDS,
        "event_declaration": FIELDS,
        "enum_member_declaration": ENUM_MEMBERS,
    },
    headers=frozenset({"namespace_declaration", "file_scoped_namespace_declaration"}),
    member_default=_csharp_member_default,
    member_public=_csharp_member_public,
)


def _kotlin_imports(node: Node) -> list[str]:
    headers = node.named_children if node.type == "import_list" else [node]
    return [" ".join(text_of(header).split()[1:]) for header in headers]


_KOTLIN_TYPES = {
    "class_declaration": TYPES,
    "object_declaration": TYPES,
    "type_alias": TYPES,
}
_KOTLIN = Grammar(
    name="kotlin",
    label="Kotlin source",
    sections=(TYPES, FUNCTIONS, CONSTANTS, IMPORTS),
    declarations={
        **_KOTLIN_TYPES,
        "function_declaration": FUNCTIONS,
        "property_declaration": CONSTANTS,
        "import_list": IMPORTS,
        "import_header": IMPORTS,
    },
    members={
        **_KOTLIN_TYPES,
        "function_declaration": METHODS,
        "secondary_constructor": METHODS,
        "property_declaration": FIELDS,
        "enum_entry": ENUM_MEMBERS,
        "companion_object": CONTAINER,
    },
    headers=frozenset({"package_header"}),
    public=_not_private,
    imports=_kotlin_imports,
)

_SWIFT_TYPES = {
    "class_declaration": TYPES,
    "protocol_declaration": TYPES,
    "typealias_declaration": TYPES,
}
_SWIFT_TOP = {
    **_SWIFT_TYPES,
    "function_declaration": FUNCTIONS,
    "property_declaration": CONSTANTS,
    "import_declaration": IMPORTS,
}
_SWIFT = Grammar(
    name="swift",
    label="Swift source",
    sections=(TYPES, EXTENSIONS, FUNCTIONS, CONSTANTS, IMPORTS),
    declarations=_SWIFT_TOP,
    members={
        **_SWIFT_TYPES,
        "function_declaration": METHODS,
        "init_declaration": METHODS,
        "deinit_declaration": METHODS,
        "subscript_declaration": METHODS,
        "protocol_function_declaration": METHODS,
        "property_declaration": FIELDS,
        "protocol_property_declaration": FIELDS,
        "enum_entry": ENUM_MEMBERS,
    },
    classify=_classify_swift,
    public=_not_private,
)

_GO = Grammar(
    name="go",
    label="Go source",
    sections=(TYPES, FUNCTIONS, METHODS, CONSTANTS, IMPORTS),
    declarations={
        "type_declaration": TYPES,
        "function_declaration": FUNCTIONS,
        "method_declaration": METHODS,
        "const_declaration": CONSTANTS,
        "var_declaration": CONSTANTS,
        "import_declaration": IMPORTS,
    },
    members={"field_declaration": FIELDS, "method_elem": METHODS},
    splits={
        "type_declaration": "type_spec",
        "const_declaration": "const_spec",
        "var_declaration": "var_spec",
    },
    headers=frozenset({"package_clause"}),
    public=_capitalised,
    member_public=_go_member_public,
    imports=_go_imports,
    body=_go_body,
    receiver=_go_receiver,
)

_RUST_ITEMS = {
    "struct_item": TYPES,
    "enum_item": TYPES,
    "union_item": TYPES,
    "trait_item": TYPES,
    "type_item": TYPES,
    "function_item": FUNCTIONS,
    "function_signature_item": FUNCTIONS,
    "impl_item": IMPLEMENTATIONS,
    "const_item": CONSTANTS,
    "static_item": CONSTANTS,
    "mod_item": MODULES,
    "macro_definition": MACROS,
}
_RUST = Grammar(
    name="rust",
    label="Rust source",
    sections=(TYPES, IMPLEMENTATIONS, FUNCTIONS, CONSTANTS, MACROS, MODULES, USES),
    declarations={
        **_RUST_ITEMS,
        "use_declaration": USES,
        "extern_crate_declaration": USES,
        "foreign_mod_item": CONTAINER,
    },
    members={
        **_RUST_ITEMS,
        "function_item": METHODS,
        "function_signature_item": METHODS,
        "const_item": FIELDS,
        "associated_type": FIELDS,
        "field_declaration": FIELDS,
        "enum_variant": ENUM_MEMBERS,
    },
    public=_has_pub,
    member_default=_rust_member_default,
    member_public=_rust_member_public,
)

_RUBY_TOP = {
    "module": MODULES,
    "class": CLASSES,
    "method": FUNCTIONS,
    "singleton_method": FUNCTIONS,
}
_RUBY_MEMBERS = {
    "module": MODULES,
    "class": CLASSES,
    "method": METHODS,
    "singleton_method": METHODS,
}
_RUBY = Grammar(
    name="ruby",
    label="Ruby source",
    sections=(MODULES, CLASSES, FUNCTIONS, CONSTANTS, IMPORTS),
    declarations=_RUBY_TOP,
    members=_RUBY_MEMBERS,
    classify=_classify_ruby,
    member_public=member_public_as_marked,
    access=_ruby_access,
    imports=quoted_strings,
    naming=_ruby_name,
)

_PHP_TYPES = {
    "class_declaration": TYPES,
    "interface_declaration": TYPES,
    "trait_declaration": TYPES,
    "enum_declaration": TYPES,
}
_PHP = Grammar(
    name="php",
    label="PHP source",
    sections=(TYPES, FUNCTIONS, CONSTANTS, IMPORTS),
    declarations={
        **_PHP_TYPES,
        "function_definition": FUNCTIONS,
        "const_declaration": CONSTANTS,
        "namespace_use_declaration": IMPORTS,
        "expression_statement": IMPORTS,
        "namespace_definition": CONTAINER,
    },
    members={
        **_PHP_TYPES,
        "method_declaration": METHODS,
        "property_declaration": FIELDS,
        "const_declaration": FIELDS,
        "enum_case": ENUM_MEMBERS,
    },
    headers=frozenset({"namespace_definition"}),
    classify=_classify_php,
    imports=_php_imports,
)

_LUA = Grammar(
    name="lua",
    label="Lua source",
    sections=(FUNCTIONS, CONSTANTS, IMPORTS),
    declarations={"function_declaration": FUNCTIONS},
    classify=_classify_lua,
    public=_lua_public,
    imports=quoted_strings,
)

_BASH = Grammar(
    name="bash",
    label="Shell script",
    sections=(FUNCTIONS, EXPORTED_VARIABLES, CONSTANTS, SOURCED),
    declarations={"function_definition": FUNCTIONS},
    classify=_classify_bash,
    public=_not_underscored,
    imports=_bash_sourced,
    signature=_bash_signature,
)

_PYTHON_MEMBERS = {
    "function_definition": METHODS,
    "class_definition": CLASSES,
    "expression_statement": FIELDS,
    "assignment": FIELDS,
}
_PYTHON = Grammar(
    name="python",
    label="Python source",
    sections=(CLASSES, FUNCTIONS, CONSTANTS, IMPORTS),
    declarations={
        "class_definition": CLASSES,
        "function_definition": FUNCTIONS,
        "import_statement": IMPORTS,
        "import_from_statement": IMPORTS,
    },
    members=_PYTHON_MEMBERS,
    wrappers=frozenset({"decorated_definition"}),
    classify=_classify_python,
    public=_not_underscored,
    member_public=_python_member_public,
    imports=_python_imports,
    docstrings=True,
)


def _javascript(name: str, label: str) -> Grammar:
    return Grammar(
        name=name,
        label=label,
        sections=JS_SECTIONS,
        declarations={},
        members=JS_MEMBERS,
        wrappers=frozenset({"export_statement", "ambient_declaration"}),
        classify=classify_js,
        public=js_public,
        member_public=js_member_public,
        imports=js_imports,
        exported=exported_names,
    )


_BY_FORMAT: dict[Format, Grammar] = {
    Format.JAVASCRIPT: _javascript("javascript", "JavaScript source"),
    Format.TYPESCRIPT: _javascript("typescript", "TypeScript source"),
    Format.GO: _GO,
    Format.RUST: _RUST,
    Format.JAVA: _JAVA,
    Format.KOTLIN: _KOTLIN,
    Format.C: C_GRAMMAR,
    Format.CPP: CPP_GRAMMAR,
    Format.CSHARP: _CSHARP,
    Format.RUBY: _RUBY,
    Format.PHP: _PHP,
    Format.SWIFT: _SWIFT,
    Format.LUA: _LUA,
    Format.SHELL: _BASH,
    Format.PYTHON: _PYTHON,
}
_TSX = _javascript("tsx", "TypeScript source")


def grammar_for(language: Format, path: str, text: str) -> Grammar | None:
    """The grammar to read a file in `language` with, or `None` when there is none."""
    extension = extension_of(path)
    if extension == ".tsx":
        return _TSX
    if language is Format.C and extension == ".h" and looks_like_cpp(text):
        # `.h` serves C and C++ alike; the C grammar stumbles on classes.
        return CPP_GRAMMAR
    return _BY_FORMAT.get(language)
