"""The workspace's import map: which of its files a file imports, and which import it.

A scan reads each new file's imports from its text (`references`), by
language, as the file spells them: a Python module (`pkg.models`, `..core.x`),
a JavaScript or TypeScript relative specifier (`./util`), a C or C++ quoted
include (`"config.h"`), a Ruby `require_relative`. They are stored by content
hash, so an unchanged file is never read again. `ImportGraph` resolves them
against the files of the current tree; a reference to anything outside the
workspace (the standard library, a package) resolves to nothing and is left
out. Lines are matched, not parsed: an import inside a string may count, and
an import built at run time does not.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

HEAD_BYTES = 1 << 20
"""Imports are read from this much of a file's start."""

_PYTHON = frozenset({".py", ".pyi", ".pyw"})
_SCRIPT = frozenset({".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts"})
_C = frozenset({".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx", ".m", ".mm"})
_RUBY = frozenset({".rb"})
EXTENSIONS = _PYTHON | _SCRIPT | _C | _RUBY
"""Files whose imports are read."""

# Matched at the start of a line that holds `import`.
_PY_IMPORT = re.compile(r"[ \t]*import[ \t]+([\w. \t,]+)")
_PY_FROM = re.compile(r"[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)")
_SCRIPT_SPECIFIER = re.compile(
    r"""(?:\bfrom|\bimport|\brequire[ \t]*\(|\bimport[ \t]*\()[ \t]*['"](\.{1,2}/[^'"\n]+)['"]"""
)
_C_INCLUDE = re.compile(r'^[ \t]*#[ \t]*(?:include|import)[ \t]*"([^"\n]+)"', re.MULTILINE)
_RUBY_REQUIRE = re.compile(r"""^[ \t]*require_relative[ \t(]*['"]([^'"\n]+)['"]""", re.MULTILINE)
_SCRIPT_SUFFIXES = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")


def extension_of(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


def references(path: str, text: str) -> tuple[str, ...]:
    """What the file at `path` imports, as its text spells it, in order, once each."""
    extension = extension_of(path)
    if extension in _PYTHON:
        found = _python_references(text)
    elif extension in _SCRIPT:
        found = _SCRIPT_SPECIFIER.findall(text)
    elif extension in _C:
        found = _C_INCLUDE.findall(text)
    elif extension in _RUBY:
        found = _RUBY_REQUIRE.findall(text)
    else:
        found = []
    return tuple(dict.fromkeys(found))


def _python_references(text: str) -> list[str]:
    found: list[str] = []
    # Only lines that hold the word are matched: finding it is many times
    # cheaper than trying a pattern at every line of a large module.
    position = 0
    while (at := text.find("import", position)) >= 0:
        start = text.rfind("\n", 0, at) + 1
        line_end = text.find("\n", at)
        position = len(text) if line_end < 0 else line_end + 1
        match = _PY_FROM.match(text, start)
        if match is not None:
            names = [
                item.split()[0] for item in match[2].strip("() \t\n").split(",") if item.split()
            ]
            names = [name for name in names if name.isidentifier()]
            if names:
                found.append(f"{match[1]} import {','.join(names)}")
            position = max(position, match.end())
        elif (match := _PY_IMPORT.match(text, start)) is not None:
            for item in match[1].split(","):
                name = item.split()[0] if item.split() else ""
                if re.fullmatch(r"\w+(\.\w+)*", name):
                    found.append(name)
    return found


class ImportGraph:
    """The resolved import map of one tree: for each file, the workspace files it
    imports and the files that import it, in path order."""

    def __init__(self, files: Iterable[str], imports: Mapping[str, Iterable[str]]) -> None:
        self._files = frozenset(files)
        self._modules = _module_index(self._files)
        self._imports: dict[str, tuple[str, ...]] = {}
        importers: defaultdict[str, set[str]] = defaultdict(set)
        for path, refs in imports.items():
            if path not in self._files:
                continue
            targets = {t for ref in refs if (t := self._resolve(path, ref)) and t != path}
            self._imports[path] = tuple(sorted(targets))
            for target in targets:
                importers[target].add(path)
        self._importers = {path: tuple(sorted(found)) for path, found in importers.items()}

    def imports(self, path: str) -> tuple[str, ...]:
        return self._imports.get(path, ())

    def imported_by(self, path: str) -> tuple[str, ...]:
        return self._importers.get(path, ())

    def covers(self, path: str) -> bool:
        """Whether the imports of the file at `path` were read."""
        return path in self._imports

    def _resolve(self, path: str, ref: str) -> str | None:
        extension = extension_of(path)
        if extension in _PYTHON:
            return self._python(path, ref)
        directory = posixpath.dirname(path)
        if extension in _SCRIPT:
            return self._first(_relative(directory, ref), _SCRIPT_SUFFIXES, index=True)
        if extension in _RUBY:
            return self._first(_relative(directory, ref), (".rb",), index=False)
        if extension in _C:
            return self._include(directory, ref)
        return None

    def _python(self, path: str, ref: str) -> str | None:
        module, _, names = ref.partition(" import ")
        # `from pkg import a` names the module `pkg.a`, or else a name inside `pkg`.
        separator = "" if module.endswith(".") else "."
        for name in names.split(",") if names else ():
            found = self._python_module(path, f"{module}{separator}{name}")
            if found is not None:
                return found
        return self._python_module(path, module) if module.strip(".") or names else None

    def _python_module(self, path: str, ref: str) -> str | None:
        dots = len(ref) - len(ref.lstrip("."))
        if dots == 0:
            candidates = self._modules.get(ref, ())
            # Of several files with that dotted name, the nearest to the importer.
            return max(candidates, key=lambda c: (_shared(c, path), c), default=None)
        package = posixpath.dirname(path)
        for _ in range(dots - 1):
            package = posixpath.dirname(package)
        base = _relative(package, "/".join(ref[dots:].split("."))) if ref[dots:] else package
        return self._first(base, (".py", ".pyi"), index=False, package=True)

    def _first(
        self, base: str | None, suffixes: tuple[str, ...], *, index: bool, package: bool = False
    ) -> str | None:
        """The first file that `base` names: with one of `suffixes`, as a package
        (`__init__.py`) or a directory's index file; or as it is spelt, for a
        specifier that carries its extension."""
        if base is None:
            return None
        candidates = [] if package else [base]
        candidates += [base + suffix for suffix in suffixes]
        if package:
            candidates += [f"{base}/__init__.py", f"{base}/__init__.pyi"]
        if index:
            candidates += [f"{base}/index{suffix}" for suffix in suffixes]
        return next((c for c in candidates if c in self._files), None)

    def _include(self, directory: str, ref: str) -> str | None:
        near = _relative(directory, ref)
        if near is not None and near in self._files:
            return near
        # An include path (`-I include`) is not known: a unique file that ends
        # with the included path stands for it.
        tail = "/" + ref.lstrip("./")
        found = [f for f in self._files if f.endswith(tail) or f == ref]
        return found[0] if len(found) == 1 else None


def _relative(directory: str, ref: str) -> str | None:
    """`ref` taken from `directory`, canonical; None when it leaves the workspace."""
    joined = posixpath.normpath(posixpath.join(directory or ".", ref))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return None
    return joined


def _module_index(files: frozenset[str]) -> dict[str, list[str]]:
    """Every Python file under each dotted name it may be imported by: the suffixes
    of its path (`src/pkg/models.py` is `models`, `pkg.models`, `src.pkg.models`)."""
    index: defaultdict[str, list[str]] = defaultdict(list)
    for path in files:
        stem, extension = posixpath.splitext(path)
        if extension not in (".py", ".pyi"):
            continue
        parts = stem.split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts or not all(part.isidentifier() for part in parts[-1:]):
            continue
        for start in range(len(parts)):
            if not all(part.isidentifier() for part in parts[start:]):
                continue
            index[".".join(parts[start:])].append(path)
    return index


def _shared(a: str, b: str) -> int:
    """How many leading directories two paths share."""
    count = 0
    for left, right in zip(a.split("/")[:-1], b.split("/")[:-1], strict=False):
        if left != right:
            break
        count += 1
    return count
