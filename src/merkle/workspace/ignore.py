"""Ignore rules: built-in defaults, secret-looking files, `.gitignore` and `.merkleignore`.

Built-in rules come first and cannot be negated: version control and tool
directories, virtual environments (any directory holding `pyvenv.cfg`),
caches, and files that look like secrets (`.env*`, private keys,
certificates, credential files). Then every `.gitignore` and `.merkleignore`
in the tree applies with git's semantics: patterns are relative to the
directory that holds the file, a deeper file overrides a shallower one, the
last matching pattern wins, and a `.merkleignore` overrides the `.gitignore`
beside it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from typing import TYPE_CHECKING

from merkle.tree.builtin_ignore import is_builtin_ignored
from merkle.tree.paths import ROOT, name_of

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

RULE_FILES = (".gitignore", ".merkleignore")
MAX_RULE_FILE_BYTES = 1 << 20

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_rule_file(abs_path: str) -> list[str]:
    # Never through a link, never a FIFO or device: a rule file linked from
    # outside must not be read, and a special file must not block the scan.
    try:
        fd = os.open(abs_path, _OPEN_FLAGS | os.O_NONBLOCK)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        data = os.read(fd, MAX_RULE_FILE_BYTES)
    except OSError:
        return []
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").splitlines()


def _compile(lines: list[str]) -> GitIgnoreSpec:
    """The spec of `lines`, leaving out invalid patterns as git does."""
    # Deferred: pathspec takes ~20 ms to import, and a rescan that lists no
    # directory again never compiles a rule.
    from pathspec import GitIgnoreSpec

    try:
        return GitIgnoreSpec.from_lines(lines)
    except ValueError:
        valid = [line for line in lines if _is_valid_pattern(line)]
        return GitIgnoreSpec.from_lines(valid)


def _is_valid_pattern(line: str) -> bool:
    from pathspec import GitIgnoreSpec

    try:
        GitIgnoreSpec.from_lines([line])
    except ValueError:
        return False
    return True


class _RuleLevel:
    """The rule files of one directory, read and compiled on first use.

    A rescan that lists no directory again never needs them.
    """

    __slots__ = ("_files", "_loaded", "_spec", "base")

    def __init__(self, base: str, files: tuple[str, ...]) -> None:
        self.base = base
        self._files = files
        self._spec: GitIgnoreSpec | None = None
        self._loaded = False

    def spec(self) -> GitIgnoreSpec | None:
        if not self._loaded:
            lines = [line for path in self._files for line in _read_rule_file(path)]
            if any(line.strip() and not line.startswith("#") for line in lines):
                self._spec = _compile(lines)
            self._loaded = True
        return self._spec


class WorkspaceIgnore:
    """The rules in force inside one directory: the built-ins plus the rule files above it."""

    def __init__(self, levels: tuple[_RuleLevel, ...] = (), signature: str = "") -> None:
        self._levels = levels
        self._signature = signature

    def enter(self, path: str, abs_path: str, names: Collection[str]) -> WorkspaceIgnore | None:
        """The rules inside directory `path`; None for a virtual environment."""
        if path != ROOT and "pyvenv.cfg" in names:
            return None
        candidates = [os.path.join(abs_path, name) for name in RULE_FILES]
        if path == ROOT:
            candidates.insert(0, os.path.join(abs_path, ".git", "info", "exclude"))
        present: list[str] = []
        fingerprint: list[str] = []
        for candidate in candidates:
            try:
                info = os.lstat(candidate)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                present.append(candidate)
                fingerprint.append(
                    f"{os.path.basename(candidate)}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"
                )
        if not present:
            return WorkspaceIgnore(self._levels)
        level = _RuleLevel(path, tuple(present))
        return WorkspaceIgnore((*self._levels, level), ";".join(fingerprint))

    @property
    def signature(self) -> str:
        """The fingerprint of the rule files of the directory last entered."""
        return self._signature

    def is_ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether the entry at canonical `path` is left out."""
        if is_builtin_ignored(name_of(path), is_dir=is_dir):
            return True
        for level in reversed(self._levels):
            spec = level.spec()
            if spec is None:
                continue
            relative = path if level.base == ROOT else path[len(level.base) + 1 :]
            result = spec.check_file(relative + "/" if is_dir else relative)
            if result.include is not None:
                return bool(result.include)
        return False
