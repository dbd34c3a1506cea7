"""Cutting a file's text to its budget while keeping its structure.

A Python file over budget keeps every definition: each function's
signature and docstring stay, its body is replaced by `...` with a comment
that says how many lines were cut, and bodies are then put back in file
order as far as the budget allows, so the result still parses. Big literal
assignments (data tables) are cut the same way. Any other text, or Python
whose outline alone is over budget, keeps its head and then lists the
definition and heading lines of the part that was cut. Either way the text
ends with a marker line that says what was left out.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from merkle.providers.payload import TRUNCATION_MARKER
from merkle.providers.tokens import estimate_tokens, prefix_within

_BIG_VALUE_LINES = 12
_BIG_VALUE_CHARS = 400
_HEAD_SHARE = 0.7
# Lines that open a definition in most languages, or a Markdown/RST heading.
_DEFINITION = re.compile(
    r"^\s{0,8}(?:(?:export|public|private|protected|internal|static|abstract|final|async"
    r"|pub(?:\([\w:]+\))?|unsafe|extern|override|open|default)\s+)*"
    r"(?:def|class|function|fn|func|interface|struct|enum|impl|trait|type|module|object"
    r"|record|protocol|extension|package|namespace|macro_rules!|CREATE)\b"
    r"|^#{1,6}\s+\S"
)

_PY_DEFINITION = re.compile(r"^\s*(?:async\s+def|def|class)\s")


@dataclass(frozen=True, slots=True)
class Fit:
    """How much text a cut may keep: an estimate of tokens, and bytes."""

    tokens: int
    max_bytes: int

    def holds(self, text: str) -> bool:
        """Whether `text` is within both limits."""
        return len(text.encode("utf-8")) <= self.max_bytes and estimate_tokens(text) <= self.tokens


def cut_to_fit(text: str, *, path: str, fit: Fit, total_bytes: int, complete: bool = True) -> str:
    """`text` as it is when it fits, or cut to `fit` with its structure kept.

    `complete` says whether `text` is the whole file: the head of a larger one is
    not outlined as code, since a cut file may parse and mean something else.
    """
    if complete and total_bytes <= fit.max_bytes and fit.holds(text):
        return text
    # Room for the closing marker line.
    inner = Fit(max(fit.tokens - 60, 0), max(fit.max_bytes - 300, 0))
    if complete and path.endswith((".py", ".pyi")):
        kept = _python_skeleton(text, inner)
        if kept is not None:
            shown, what = kept
            return f"{shown}\n{TRUNCATION_MARKER}: {what}; {total_bytes:,} bytes in all ...]"
    shown, what = _head_and_outline(text, inner)
    return f"{shown}\n{TRUNCATION_MARKER}: {what}; {total_bytes:,} bytes in all ...]"


# -- Python: every definition, bodies as far as they fit ---------------------------------


@dataclass(frozen=True, slots=True)
class _Span:
    """Lines `first`..`last` (1-based, inclusive) that may be replaced by `stub`."""

    first: int
    last: int
    stub: str
    what: str


def _python_skeleton(text: str, fit: Fit) -> tuple[str, str] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = text.splitlines()
    # Signatures with docstrings, then (for a module of hundreds of functions)
    # signatures alone: each function's docstring and body become one `...`.
    for compact in (False, True):
        spans = sorted(_spans(tree, lines, compact=compact), key=lambda span: span.first)
        if not spans:
            return None
        # All bodies and long values cut; then docstrings down to their first paragraph.
        cut = {index for index, span in enumerate(spans) if span.what != "docstring"}
        if not fit.holds(_render(lines, spans, cut)):
            cut = set(range(len(spans)))
        shown = _render(lines, spans, cut)
        if fit.holds(shown):
            return _restored(lines, spans, cut, fit)
    return _skeleton_head(shown, fit)


def _skeleton_head(skeleton: str, fit: Fit) -> tuple[str, str] | None:
    """Not even the signatures fit: the skeleton up to a statement boundary, then the
    rest's definitions as comments, so that what is sent still parses."""
    try:
        tree = ast.parse(skeleton)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = skeleton.splitlines()
    head_fit = Fit(int(fit.tokens * _HEAD_SHARE), int(fit.max_bytes * _HEAD_SHARE))
    end = _prefix(skeleton, head_fit)
    last_line = skeleton.count("\n", 0, end)  # lines wholly or partly within the head
    stops = [line for line in _boundaries(tree) if line <= last_line]
    keep = max(stops, default=1) - 1
    if keep == 0:
        return None  # not one statement fits: the text's head says more
    head, rest = lines[:keep], lines[keep:]
    outline = [f"# {line.rstrip()[:160]}" for line in rest if _PY_DEFINITION.match(line)]
    note = f"# [... cut from line {keep + 1:,} of the outline; the definitions there"
    kept = "\n".join(head)
    room = Fit(fit.tokens - estimate_tokens(kept), fit.max_bytes - len(kept.encode("utf-8")))
    listed = _lines_within(outline, room.holds)
    shown = "\n".join([*head, f"{note} ({len(listed):,} of {len(outline):,} listed):", *listed])
    return shown, "the signatures alone are over the budget: their outline is listed"


def _boundaries(tree: ast.Module) -> list[int]:
    """Lines before which the skeleton may end and still parse: the start of any
    statement of the module or of a class body, except a class's first."""
    lines: list[int] = []

    def visit(body: list[ast.stmt], *, first_needed: bool) -> None:
        for position, node in enumerate(body):
            if position or not first_needed:
                lines.append(_first_line(node))
            if isinstance(node, ast.ClassDef):
                visit(node.body, first_needed=True)

    visit(tree.body, first_needed=False)
    return sorted(lines)


def _first_line(node: ast.stmt) -> int:
    """The first line of a statement, its decorators included."""
    decorators: list[ast.expr] = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(decorator.lineno for decorator in decorators)])


def _restored(lines: list[str], spans: list[_Span], cut: set[int], fit: Fit) -> tuple[str, str]:
    """The skeleton with as many cut spans put back as `fit` holds, and what stays cut."""
    shown = _render(lines, spans, cut)
    # What putting each span back costs, summed rather than re-estimated each time.
    tokens, size = estimate_tokens(shown), len(shown.encode("utf-8"))
    restored: list[int] = []
    # Docstrings first: they say more about a file than its bodies do.
    for index in sorted(cut, key=lambda index: (spans[index].what != "docstring", index)):
        span = spans[index]
        body = "\n".join(lines[span.first - 1 : span.last])
        more = estimate_tokens(body) - estimate_tokens(span.stub)
        grown = len(body.encode("utf-8")) - len(span.stub.encode("utf-8"))
        if tokens + more <= fit.tokens and size + grown <= fit.max_bytes:
            tokens, size = tokens + more, size + grown
            restored.append(index)
    cut -= set(restored)
    shown = _render(lines, spans, cut)
    while restored and not fit.holds(shown):
        cut.add(restored.pop())
        shown = _render(lines, spans, cut)
    if not cut:
        return shown, "nothing left out"
    kinds = Counter(spans[index].what for index in cut)
    parts = [f"{kinds['body']:,} function bodies"] if kinds["body"] else []
    parts += [f"{kinds['bare']:,} function docstrings and bodies"] if kinds["bare"] else []
    parts += [f"{kinds['value']:,} long values"] if kinds["value"] else []
    parts += [f"{kinds['docstring']:,} docstrings past their first paragraph"] * bool(
        kinds["docstring"]
    )
    cut_lines = sum(spans[index].last - spans[index].first + 1 for index in cut)
    return shown, f"{' and '.join(parts)} ({cut_lines:,} lines) are cut, marked `...`"


def _spans(tree: ast.Module, lines: list[str], *, compact: bool) -> list[_Span]:
    spans: list[_Span] = []

    def visit(body: list[ast.stmt], *, in_class: bool) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found = (
                    (_bare_span(node, lines),)
                    if compact
                    else (_doc_span(node, lines), _body_span(node, lines))
                )
                spans.extend(span for span in found if span)
            elif isinstance(node, ast.ClassDef):
                spans.extend(s for s in (_doc_span(node, lines),) if s)
                visit(node.body, in_class=True)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                # A class's tables too (a lexer's `tokens = {...}`), not only the module's.
                span = _value_span(node, lines)
                if span is not None:
                    spans.append(span)

    spans.extend(s for s in (_doc_span(tree, lines),) if s)
    visit(tree.body, in_class=False)
    return spans


def _doc_span(node: ast.AST, lines: list[str]) -> _Span | None:
    """The docstring of `node` cut to its first paragraph, when it is longer."""
    body = getattr(node, "body", None)
    if not body or not isinstance(node, _DOCUMENTED):
        return None
    doc = ast.get_docstring(node, clean=True)
    first = body[0]
    if doc is None or first.end_lineno is None or first.end_lineno - first.lineno < 3:
        return None
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    if '"""' in paragraph or paragraph.endswith("\\") or not _starts_line(lines, first):
        return None
    left = first.end_lineno - first.lineno + 1
    stub = f'{" " * first.col_offset}"""{paragraph} [cut: {left} lines of the docstring]"""'
    return _Span(first.lineno, first.end_lineno, stub, "docstring")


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _body_span(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> _Span | None:
    body = node.body
    if ast.get_docstring(node, clean=False) is not None:
        body = body[1:]
    if not body or node.end_lineno is None:
        return None
    first, last = _first_line(body[0]), node.end_lineno
    # A body that starts on the `def` line (`def f(): return 1`) is left whole.
    if first <= node.lineno or last - first < 1 or not _starts_line(lines, body[0]):
        return None
    indent = " " * body[0].col_offset
    stub = f"{indent}...  # [cut: {last - first + 1} lines of the body]"
    return _Span(first, last, stub, "body")


def _bare_span(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> _Span | None:
    """A function's docstring and body as one `...`: its signature alone is kept."""
    first, last = _first_line(node.body[0]), node.end_lineno
    if last is None or first <= node.lineno or not _starts_line(lines, node.body[0]):
        return None
    return _Span(first, last, " " * node.body[0].col_offset + "...", "bare")


def _value_span(node: ast.Assign | ast.AnnAssign, lines: list[str]) -> _Span | None:
    value = node.value
    if value is None or node.end_lineno is None or not _starts_line(lines, node):
        return None
    if value.lineno != node.lineno:
        return None
    count = node.end_lineno - node.lineno + 1
    if count > _BIG_VALUE_LINES:
        what = f"{count} lines"
    elif count == 1 and len(lines[node.lineno - 1]) > _BIG_VALUE_CHARS:
        # A table of names on one line (`NAMES = {'a', 'b', ...}`) is as long as many.
        what = f"{len(lines[node.lineno - 1]) - value.col_offset:,} characters"
    else:
        return None
    head = lines[node.lineno - 1][: value.col_offset]
    return _Span(node.lineno, node.end_lineno, f"{head}...  # [cut: a value of {what}]", "value")


def _starts_line(lines: list[str], node: ast.stmt) -> bool:
    return not lines[node.lineno - 1][: node.col_offset].strip()


def _render(lines: list[str], spans: list[_Span], cut: set[int]) -> str:
    out: list[str] = []
    position = 1
    for index in sorted(cut):  # spans are in file order and never overlap
        span = spans[index]
        out += lines[position - 1 : span.first - 1]
        out.append(span.stub)
        position = span.last + 1
    out += lines[position - 1 :]
    return "\n".join(out)


# -- anything else: the head, then the outline of the rest -----------------------------------


def _head_and_outline(text: str, fit: Fit) -> tuple[str, str]:
    head_end = _prefix(text, Fit(int(fit.tokens * _HEAD_SHARE), int(fit.max_bytes * _HEAD_SHARE)))
    head_end = text.rfind("\n", 0, head_end) + 1 or head_end
    head, rest = text[:head_end], text[head_end:]
    first_cut = head.count("\n") + 1
    outline = [
        f"{first_cut + number}: {line.strip()[:160]}"
        for number, line in enumerate(rest.splitlines())
        if _DEFINITION.match(line)
    ]
    room = Fit(fit.tokens - estimate_tokens(head), fit.max_bytes - len(head.encode("utf-8")))
    listed = _lines_within(outline, room.holds)
    rest_lines = rest.count("\n") + (not rest.endswith("\n"))
    what = f"lines {first_cut:,}-{first_cut + rest_lines - 1:,} are cut"
    if not outline:
        return head.rstrip("\n"), what
    note = (
        f"[... cut from line {first_cut:,}; the definitions and headings there"
        f" ({len(listed):,} of {len(outline):,} listed):"
    )
    return "\n".join([head.rstrip("\n"), note, *listed]), f"{what}, their outline listed"


def _prefix(text: str, fit: Fit) -> int:
    end = prefix_within(text, fit.tokens)
    encoded = text[:end].encode("utf-8")
    if len(encoded) > fit.max_bytes:
        end = len(encoded[: fit.max_bytes].decode("utf-8", "ignore"))
    return end


def _lines_within(lines: list[str], holds: Callable[[str], bool]) -> list[str]:
    """The longest first part of `lines` that `holds` (found by bisection)."""
    low, high = 0, len(lines)
    while low < high:
        middle = (low + high + 1) // 2
        if holds("\n".join(lines[:middle]) + "\n" * 2):
            low = middle
        else:
            high = middle - 1
    return lines[:low]
