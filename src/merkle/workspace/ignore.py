"""Ignore rules: built-in defaults, secret-looking files, `.gitignore` and `.merkleignore`.

Built-in rules come first and cannot be negated: version control and tool
directories, virtual environments (any directory holding `pyvenv.cfg`),
caches, and files that look like secrets (`.env*`, private keys,
certificates, credential files), and any entry whose name holds a credential
(a token pasted into a file name). Then every `.gitignore` and `.merkleignore`
in the tree applies with git's semantics: patterns are relative to the
directory that holds the file, a deeper file overrides a shallower one, the
last matching pattern wins, and a `.merkleignore` overrides the `.gitignore`
beside it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection

from merkle.metadata.credentials import credential_rule
from merkle.tree.builtin_ignore import is_builtin_ignored
from merkle.tree.gitignore import GitPattern, InvalidPattern, decide, parse_pattern
from merkle.tree.paths import ROOT, name_of

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


class _RuleLevel:
    """The rule files of one directory, read and compiled on first use.

    A rescan that lists no directory again never needs them.
    """

    __slots__ = ("_files", "_loaded", "_patterns", "_problems", "base")

    def __init__(self, base: str, files: tuple[str, ...]) -> None:
        self.base = base
        self._files = files
        self._patterns: list[GitPattern] = []
        self._problems: list[tuple[str, str]] = []
        self._loaded = False

    def patterns(self) -> list[GitPattern]:
        """The level's patterns, in file order (a `.merkleignore` after the `.gitignore`)."""
        if not self._loaded:
            self._load()
        return self._patterns

    def problems(self) -> list[tuple[str, str]]:
        """`(rule file's path, message)` for each pattern left out as invalid."""
        if not self._loaded:
            self._load()
        return self._problems

    def _load(self) -> None:
        self._loaded = True
        for file in self._files:
            for number, line in enumerate(_read_rule_file(file), start=1):
                try:
                    pattern = parse_pattern(line)
                except InvalidPattern as why:
                    self._problems.append(
                        (
                            self._workspace_path(file),
                            f"line {number}: the pattern {line!r} is invalid ({why});"
                            " it is skipped, as git skips it",
                        )
                    )
                    continue
                if pattern is not None:
                    self._patterns.append(pattern)

    def _workspace_path(self, file: str) -> str:
        name = os.path.basename(file)
        if name == "exclude":
            return ".git/info/exclude"
        return name if self.base == ROOT else f"{self.base}/{name}"


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

    def problems(self) -> list[tuple[str, str]]:
        """The invalid patterns of the rule files of the directory last entered, as
        `(rule file's path, message)`: each is skipped, as git skips it."""
        if not self._levels or not self._signature:
            return []
        return self._levels[-1].problems()

    def is_ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether the entry at canonical `path` is left out."""
        name = name_of(path)
        # A name holding a credential is a secret itself: it would be stored and sent.
        if is_builtin_ignored(name, is_dir=is_dir) or credential_rule(name) is not None:
            return True
        for level in reversed(self._levels):
            patterns = level.patterns()
            if not patterns:
                continue
            relative = path if level.base == ROOT else path[len(level.base) + 1 :]
            ignored = decide(patterns, relative, is_dir=is_dir)
            if ignored is not None:
                return ignored
        return False
