"""Reading a declaration off a tree-sitter syntax tree: its name, signature, doc comment.

These helpers know the shapes most grammars share (a `name` field, a `body`
field, comment nodes before a declaration) and nothing of any one language;
`languages` adds what differs. Every walk here is bounded in depth and in
nodes visited, so a pathological tree costs little.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from merkle.providers.local.outline import clip
from merkle.providers.local.prose import docstring_summary, first_sentence

if TYPE_CHECKING:
    from tree_sitter import Node

MAX_SIGNATURE_CHARS = 160
_MAX_DOC_CHARS = 140
_MAX_NAME_DEPTH = 6
_MAX_CUT_NODES = 400

# Nodes that hold a declaration's contents rather than its signature.
BODY_TYPES = frozenset(
    {
        "block",
        "body_statement",
        "class_body",
        "compound_statement",
        "computed_property",
        "constructor_body",
        "declaration_list",
        "enum_body",
        "enum_class_body",
        "enum_member_declaration_list",
        "enum_variant_list",
        "enumerator_list",
        "field_declaration_list",
        "function_body",
        "interface_body",
        "object_type",
        "protocol_body",
        "statement_block",
        "accessor_list",
        "arrow_expression_clause",
    }
)
# Tokens at which a signature ends even when no body node follows.
_CUT_TOKENS = frozenset({"{", "=>", "end"})
# Subtrees a body is never looked for in: a default value or decorator
# argument may hold a block of its own.
_NO_CUT_INSIDE = frozenset(
    {
        "annotation",
        "argument_list",
        "arguments",
        "attribute",
        "decorator",
        "formal_parameters",
        "function_value_parameters",
        "method_parameters",
        "parameter_list",
        "parameters",
        "string",
        "template_string",
        "type_annotation",
        "type_arguments",
        "type_parameters",
        "value_arguments",
    }
)
NAME_TYPES = frozenset(
    {
        "constant",
        "destructor_name",
        "field_identifier",
        "identifier",
        "name",
        "operator_name",
        "package_identifier",
        "private_property_identifier",
        "property_identifier",
        "qualified_identifier",
        "simple_identifier",
        "type_identifier",
        "variable_name",
        "word",
    }
)
# Nodes a name sits inside of: `const a = 1` names `a` in its declarator.
_NAME_HOLDERS = frozenset(
    {
        "assignment",
        "assignment_statement",
        "const_element",
        "const_spec",
        "init_declarator",
        "property_element",
        "reference_declarator",
        "type_spec",
        "var_spec",
        "variable_assignment",
        "variable_declaration",
        "variable_declarator",
        "variable_list",
    }
)
_COMMENT_MARKERS = re.compile(r"^\s*(/\*\*?|\*/|\*|///?!?|#+|--+\[?\[?|=begin|=end)\s?")
_XML_REFERENCE = re.compile(r"<(?:see|seealso|paramref|typeparamref)\s+\w+=\"([^\"]*)\"\s*/>")
_XML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_DOC_TAG = re.compile(r"^\s*[@\\](param|return|returns|throws|exception|see|since|author|brief)\b")


def text_of(node: Node) -> str:
    """The source text of `node`."""
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def is_comment(node: Node) -> bool:
    """Whether `node` is a comment, whatever the grammar calls it."""
    return "comment" in node.type


def name_of(node: Node, depth: int = 0) -> str | None:
    """The name a declaration node declares, looked for where grammars put it."""
    if node.type in NAME_TYPES:
        return text_of(node)
    if depth > _MAX_NAME_DEPTH:
        return None
    named = node.child_by_field_name("name")
    if named is not None:
        # A dotted or qualified name (`M.new`, `App\\Http`) is shown whole.
        return name_of(named, depth + 1) if named.type in _NAME_HOLDERS else text_of(named)
    declarator = node.child_by_field_name("declarator")
    if declarator is not None:
        # C declarators nest: `*f(int)` is a pointer to a function named `f`.
        return name_of(declarator, depth + 1)
    for child in node.named_children:
        if child.type in NAME_TYPES:
            return text_of(child)
        if child.type in _NAME_HOLDERS:
            return name_of(child, depth + 1)
    return None


def body_of(node: Node) -> Node | None:
    """The node holding a declaration's members or statements, if it has one."""
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    return next((child for child in node.named_children if child.type in BODY_TYPES), None)


def signature_of(node: Node) -> str:
    """The declaration as written up to its body, on one line, without comments."""
    start, end = node.start_byte, _cut_point(node)
    raw = node.text or b""
    pieces: list[bytes] = []
    position = start
    for comment in _comments_within(node, end):
        pieces.append(raw[position - start : comment.start_byte - start])
        position = comment.end_byte
    pieces.append(raw[position - start : end - start])
    return clean_signature(b" ".join(pieces).decode("utf-8", "replace"))


def clean_signature(text: str) -> str:
    """A declaration's text on one line without its trailing `{`, `;` or `=`."""
    flat = " ".join(text.split())
    # Java's `@Override` says nothing about the method's interface.
    flat = flat.replace("@Override ", "")
    flat = re.sub(r"\s*(\{|;|:|=>|=)\s*$", "", flat)
    return clip(flat, MAX_SIGNATURE_CHARS)


def _cut_point(node: Node) -> int:
    # Pre-order: the first body node or cutting token ends the signature.
    stack = list(reversed(node.children))
    visited = 0
    while stack and visited < _MAX_CUT_NODES:
        child = stack.pop()
        visited += 1
        if child.type in BODY_TYPES or (not child.is_named and child.type in _CUT_TOKENS):
            return child.start_byte
        if child.type not in _NO_CUT_INSIDE:
            stack.extend(reversed(child.children))
    return node.end_byte


def _comments_within(node: Node, end: int) -> list[Node]:
    return [
        child
        for child in node.children
        if is_comment(child) and child.end_byte <= end and child.start_byte > node.start_byte
    ]


def leading_comments(node: Node) -> list[Node]:
    """The comments just above `node`, in order; attributes between them are passed over."""
    found: list[Node] = []
    below = node
    current = node.prev_sibling
    while current is not None:
        touching = current.end_point.row >= below.start_point.row - 1
        if is_comment(current) and touching and not _trails_code(current):
            found.append(current)
        elif not (current.type in ("attribute_item", "attribute", "decorator") and touching):
            break
        below, current = current, current.prev_sibling
    return list(reversed(found))


def _trails_code(comment: Node) -> bool:
    # `x = 1  # why` documents the line it ends, not the declaration below.
    before = comment.prev_sibling
    return before is not None and before.end_point.row == comment.start_point.row


def comment_text(comments: list[Node]) -> str:
    """The prose of comment nodes, their markers, XML tags and tag lines taken off."""
    lines: list[str] = []
    last_row: int | None = None
    for comment in comments:
        # A run of line comments is one paragraph; a blank line or a block
        # comment ends it.
        block = text_of(comment).startswith("/*")
        if last_row is not None and (block or comment.start_point.row > last_row + 1):
            lines.append("")
        end = comment.end_point
        last_row = end.row - 1 if end.column == 0 and end.row > comment.start_point.row else end.row
        for line in text_of(comment).splitlines():
            body = _COMMENT_MARKERS.sub("", line.strip(), count=1).rstrip()
            body = body.removesuffix("*/").removesuffix("]]").rstrip()
            if _DOC_TAG.match(body):
                break
            body = _XML_TAG.sub("", _XML_REFERENCE.sub(r"\1", body))
            lines.append(body.strip())
        if block:
            lines.append("")
    return "\n".join(lines)


def doc_of(comments: list[Node]) -> str | None:
    """The first sentence of a doc comment, clipped, or `None` without one."""
    summary = docstring_summary(comment_text(comments))
    if summary is None:
        return None
    return clip(first_sentence(summary), _MAX_DOC_CHARS)
