"""The outline of a Python module, read with `ast` (the code is never run).

It names what a reader looks for first: the module docstring, the imports
(standard library, third-party, local), the classes with their bases, fields
and public methods, the top-level functions with full signatures, the
UPPER_CASE constants, and whether the module runs as a script.
"""

from __future__ import annotations

import ast
import posixpath
import re
import sys
import warnings
from dataclasses import dataclass

from merkle.providers.local.outline import (
    MAX_NAMED,
    Outline,
    Section,
    UnparsableText,
    clip,
    code,
    count_lines,
    join_names,
    plural,
)
from merkle.providers.local.prose import docstring_summary, first_sentence

_MAX_METHODS = 20
_MAX_FIELDS = 12
_MAX_SIGNATURE_CHARS = 180
_MAX_VALUE_CHARS = 60
_MAX_DOC_CHARS = 140
_MAX_DECORATOR_CHARS = 90
_PARSE_RETRIES = 5

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_PROPERTIES = frozenset({"property", "cached_property", "functools.cached_property"})
# Shown by the item's form (`name: type (property)`, no `self`) rather than by name.
_IMPLIED_DECORATORS = _PROPERTIES | {"staticmethod"}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Module:
    tree: ast.Module
    path: str
    lines: int


def outline_python(path: str, text: str, *, truncated: bool = False) -> Outline:
    """The outline of the Python module at `path`.

    Raises `UnparsableText` when the text is not valid Python. A truncated
    text is parsed up to its last complete top-level statement.
    """
    module = _Module(
        tree=parse_module(text, truncated=truncated), path=path, lines=count_lines(text)
    )
    classes = [node for node in module.tree.body if isinstance(node, ast.ClassDef)]
    functions = [node for node in module.tree.body if isinstance(node, _FunctionNode)]
    constants = _constants(module.tree)
    sections = (
        Section(title="Imports", items=_import_items(module)),
        Section(title="Classes", items=tuple(_class_items(classes))),
        Section(title="Functions", items=_function_items(functions)),
        Section(title="Constants", items=tuple(constants)),
        Section(title="Exports", items=_exports(module.tree)),
        Section(title="Past the cut", items=_past_the_cut(text) if truncated else ()),
    )
    return Outline(
        summary=_docstring_summary(module.tree)
        or _header_comment(text)
        or _defines(classes, functions, [name for name, _ in _constant_nodes(module.tree)]),
        facts=_facts(module, classes=classes, functions=functions, constants=constants),
        sections=sections,
    )


def parse_module(text: str, *, truncated: bool) -> ast.Module:
    """The syntax tree of `text`, or `UnparsableText` saying where it breaks."""
    try:
        return _parse(text)
    except UnparsableText:
        if not truncated:
            raise
    # A cut-off file usually breaks inside its last statement: drop whole
    # top-level statements from the end until the rest parses.
    lines = text.splitlines()
    for _ in range(_PARSE_RETRIES):
        lines = lines[: _last_top_level_line(lines)]
        if not lines:
            break
        try:
            return _parse("\n".join(lines))
        except UnparsableText:
            continue
    return _parse(text)


def _parse(text: str) -> ast.Module:
    try:
        # The code is read, not run: its warnings (invalid escapes and the
        # like) are no concern of ours and must not reach the user.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except SyntaxError as error:
        raise UnparsableText(f"SyntaxError at line {error.lineno}: {error.msg}") from error
    except (ValueError, RecursionError, MemoryError) as error:
        raise UnparsableText(f"{type(error).__name__}: {error}") from error


def _last_top_level_line(lines: list[str]) -> int:
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line and line[0] not in " \t#)]}":
            return index
    return 0


def _docstring_summary(tree: ast.Module) -> str | None:
    docstring = ast.get_docstring(tree)
    return docstring_summary(docstring) if docstring else None


# The outline a cut leaves of what it did not send: `# class Name(...):` lines
# after its note (`merkle.context.generation.cuts`).
_CUT_NOTE = "# [... cut from line "
_CUT_DEFINITION = re.compile(r"^# (?:async )?(class|def) (\w+)")


def _past_the_cut(text: str) -> tuple[str, ...]:
    """The top-level classes and functions the prompt's cut listed by name only."""
    start = text.find(_CUT_NOTE)
    if start < 0:
        return ()
    found: dict[str, list[str]] = {"class": [], "def": []}
    for line in text[start:].splitlines()[1:]:
        match = _CUT_DEFINITION.match(line)
        if match:
            found[match[1]].append(match[2])
    items = [f"classes: {join_names(found['class'], limit=MAX_NAMED)}"] if found["class"] else []
    items += [f"functions: {join_names(found['def'], limit=MAX_NAMED)}"] if found["def"] else []
    return tuple(items)


def _header_comment(text: str) -> str | None:
    """The summary of the comment block a module without a docstring opens with
    (`# This directory is a Python package.`), past a shebang and tool directives."""
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        if not stripped.startswith("#!"):
            lines.append(stripped.lstrip("#").strip())
    return docstring_summary("\n".join(lines)) if lines else None


def _defines(
    classes: list[ast.ClassDef], functions: list[_FunctionNode], constants: list[str]
) -> str | None:
    """A sentence naming what a module without a docstring defines: its largest
    classes first, then its public functions; failing those, its private
    functions or its constants."""
    largest = sorted(classes, key=_size, reverse=True)
    parts = [f"classes {join_names([node.name for node in largest], limit=4)}"] if classes else []
    public = [node.name for node in functions if not node.name.startswith("_")]
    if public:
        parts.append(f"functions {join_names(public, limit=4)}")
    elif functions and not classes:
        parts.append(f"private functions {join_names([n.name for n in functions], limit=4)}")
    if constants and not parts:
        parts.append(f"constants {join_names(constants, limit=4)}")
    return f"Defines {' and '.join(parts)}." if parts else None


def _size(node: ast.AST) -> int:
    return (getattr(node, "end_lineno", None) or 0) - (getattr(node, "lineno", None) or 0)


def _facts(
    module: _Module,
    *,
    classes: list[ast.ClassDef],
    functions: list[_FunctionNode],
    constants: list[str],
) -> str:
    counts = [
        plural(len(classes), "class", "classes") if classes else "",
        plural(len(functions), "function") if functions else "",
        plural(len(constants), "constant") if constants else "",
    ]
    listed = ", ".join(count for count in counts if count)
    facts = f"{_kind(module.path)}, {plural(module.lines, 'line')}"
    facts += f": {listed}." if listed else "."
    script = _main_guard(module.tree)
    if script is not None:
        facts += f" Runs as a script: {script}."
    return facts


def _kind(path: str) -> str:
    name = posixpath.basename(path)
    if name == "__init__.py":
        return "Python package initialiser"
    if name == "__main__.py":
        return "Python package entry point"
    if name.endswith(".pyi"):
        return "Python type stub"
    if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
        return "Python test module"
    return "Python module"


def _import_items(module: _Module) -> tuple[str, ...]:
    groups: dict[str, set[str]] = {"standard library": set(), "third-party": set(), "local": set()}
    local_roots = set(posixpath.dirname(module.path).split("/"))
    for node in ast.walk(module.tree):
        for name in _imported(node):
            top = name.split(".")[0]
            if name == "__future__":
                continue
            if name.startswith(".") or top in local_roots:
                groups["local"].add(name)
            elif top in sys.stdlib_module_names:
                groups["standard library"].add(name)
            else:
                groups["third-party"].add(name)
    return tuple(
        f"{group}: {join_names(sorted(names))}" for group, names in groups.items() if names
    )


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    dots = "." * node.level
    if node.module is None:
        # `from . import a, b` brings in the sibling modules themselves.
        return [dots + alias.name for alias in node.names]
    return [dots + node.module]


def _class_items(classes: list[ast.ClassDef]) -> list[str]:
    items: list[str] = []
    for node in classes:
        bases = [ast.unparse(base) for base in node.bases]
        bases += [ast.unparse(keyword) for keyword in node.keywords]
        head = code(clip(f"{node.name}({', '.join(bases)})" if bases else node.name, 120))
        items.append(_decorated(node) + head + _doc_suffix(node))
        items.extend("  " + line for line in _class_body_items(node))
    return items


def _class_body_items(node: ast.ClassDef) -> list[str]:
    fields = [
        clip(f"{statement.target.id}: {ast.unparse(statement.annotation)}", 60)
        for statement in node.body
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
    ]
    attributes = [
        target.id
        for statement in node.body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name) and not target.id.startswith("__")
    ]
    methods = [statement for statement in node.body if isinstance(statement, _FunctionNode)]
    items = []
    if fields:
        items.append("fields: " + join_names(fields, limit=_MAX_FIELDS))
    if attributes:
        label = "members" if _is_enum(node) else "attributes"
        items.append(f"{label}: " + join_names(attributes, limit=_MAX_FIELDS))
    items.extend(_method_items(methods))
    return items


def _is_enum(node: ast.ClassDef) -> bool:
    return any(ast.unparse(base).endswith(("Enum", "Flag")) for base in node.bases)


def _method_items(methods: list[_FunctionNode]) -> list[str]:
    # A property's setter and deleter share its name: the getter stands for all three.
    methods = [method for method in methods if not _is_accessor(method)]
    shown = [method for method in methods if _is_public_method(method.name)]
    items = [_function_item(method, method=True) for method in shown[:_MAX_METHODS]]
    if len(shown) > _MAX_METHODS:
        items.append(f"and {plural(len(shown) - _MAX_METHODS, 'more method')}")
    private = [method.name for method in methods if not _is_public_method(method.name)]
    if private:
        items.append("private: " + join_names(private, limit=_MAX_FIELDS))
    return items


def _is_accessor(node: _FunctionNode) -> bool:
    return any(
        ast.unparse(decorator).endswith((".setter", ".deleter"))
        for decorator in node.decorator_list
    )


def _is_public_method(name: str) -> bool:
    return not name.startswith("_") or name in ("__init__", "__call__")


def _function_items(functions: list[_FunctionNode]) -> tuple[str, ...]:
    items = [_function_item(node) for node in functions if not node.name.startswith("_")]
    private = [node.name for node in functions if node.name.startswith("_")]
    if private:
        items.append("private: " + join_names(private))
    return tuple(items)


def _function_item(node: _FunctionNode, *, method: bool = False) -> str:
    decorators = {ast.unparse(decorator) for decorator in node.decorator_list}
    skip_first = method and "staticmethod" not in decorators
    if decorators & _PROPERTIES:
        returns = f": {ast.unparse(node.returns)}" if node.returns else ""
        return (
            f"{code(clip(node.name + returns, _MAX_SIGNATURE_CHARS))} (property){_doc_suffix(node)}"
        )
    prefix = "async " if isinstance(node, ast.AsyncFunctionDef) else ""
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    signature = (
        f"{prefix}{node.name}({format_arguments(node.args, skip_first=skip_first)}){returns}"
    )
    return _decorated(node) + code(clip(signature, _MAX_SIGNATURE_CHARS)) + _doc_suffix(node)


def format_arguments(arguments: ast.arguments, *, skip_first: bool = False) -> str:
    """A parameter list as PEP 8 writes it; `skip_first` drops `self` or `cls`."""
    positional = [*arguments.posonlyargs, *arguments.args]
    padding = len(positional) - len(arguments.defaults)
    parts = []
    for index, argument in enumerate(positional):
        default = arguments.defaults[index - padding] if index >= padding else None
        parts.append(_parameter(argument, default))
        if index == len(arguments.posonlyargs) - 1:
            parts.append("/")
    if arguments.vararg is not None:
        parts.append("*" + _parameter(arguments.vararg, None))
    elif arguments.kwonlyargs:
        parts.append("*")
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        parts.append(_parameter(argument, default))
    if arguments.kwarg is not None:
        parts.append("**" + _parameter(arguments.kwarg, None))
    if skip_first and positional:
        parts = parts[1:]
        if parts[:1] == ["/"]:
            parts = parts[1:]
    return ", ".join(parts)


def _parameter(argument: ast.arg, default: ast.expr | None) -> str:
    text = argument.arg
    if argument.annotation is not None:
        text += f": {ast.unparse(argument.annotation)}"
    if default is not None:
        separator = " = " if argument.annotation is not None else "="
        text += separator + clip(ast.unparse(default), _MAX_VALUE_CHARS)
    return text


def _decorated(node: ast.ClassDef | _FunctionNode) -> str:
    """The decorators before an item, within `_MAX_DECORATOR_CHARS`: a stack of them
    must leave room for the name they decorate."""
    names = [ast.unparse(item) for item in node.decorator_list]
    names = [name for name in names if name not in _IMPLIED_DECORATORS]
    text = ""
    for position, name in enumerate(names):
        shown = f"{code(clip('@' + name, 40))} "
        if len(text) + len(shown) > _MAX_DECORATOR_CHARS:
            return text + f"(and {plural(len(names) - position, 'more decorator')}) "
        text += shown
    return text


def _doc_suffix(node: ast.ClassDef | _FunctionNode) -> str:
    # The first sentence, not the first line: a line break is no full stop.
    summary = docstring_summary(ast.get_docstring(node) or "")
    return " — " + clip(first_sentence(summary), _MAX_DOC_CHARS) if summary else ""


def _constants(tree: ast.Module) -> list[str]:
    public: list[str] = []
    private: list[str] = []
    for name, node in _constant_nodes(tree):
        if name.startswith("_"):
            private.append(name)
            continue
        annotation = f": {ast.unparse(node.annotation)}" if isinstance(node, ast.AnnAssign) else ""
        value = clip(ast.unparse(node.value), _MAX_VALUE_CHARS) if node.value else "..."
        public.append(code(f"{name}{annotation} = {value}"))
    return public + (["private: " + join_names(private)] if private else [])


def _constant_nodes(tree: ast.Module) -> list[tuple[str, ast.Assign | ast.AnnAssign]]:
    """The module's UPPER_CASE assignments, by name."""
    found: list[tuple[str, ast.Assign | ast.AnnAssign]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target: ast.expr = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        else:
            continue
        if isinstance(target, ast.Name) and _is_constant_name(target.id):
            found.append((target.id, node))
    return found


def _is_constant_name(name: str) -> bool:
    bare = name.lstrip("_")
    return bool(bare) and bare[0].isalpha() and bare == bare.upper()


def _exports(tree: ast.Module) -> tuple[str, ...]:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(
                isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
            )
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            names = [
                element.value
                for element in node.value.elts
                if isinstance(element, ast.Constant) and isinstance(element.value, str)
            ]
            return (f"`__all__`: {join_names(names, limit=MAX_NAMED)}",)
    return ()


def _main_guard(tree: ast.Module) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            walked = ast.walk(node)
            # Each callee once: a script that logs ten times calls `console.log`.
            calls = list(
                dict.fromkeys(ast.unparse(c.func) for c in walked if isinstance(c, ast.Call))
            )
            called = f" calls {join_names(calls, limit=3)}" if calls else ""
            return f'`if __name__ == "__main__"`{called}'
    return None


def _is_main_test(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )
