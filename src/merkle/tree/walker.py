"""The walk: which files and directories make up the workspace tree.

The walker lists directories with `os.scandir`, asks the ignore rules about
every entry, and records the stat of each file for the stat cache. It never
follows a symbolic link: a link's target, if it lies inside the workspace, is
part of the tree at its own path already, and a link that points outside the
workspace, dangles or loops is reported as a warning. Nothing here reads file
contents.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from merkle.tree.paths import ROOT, join, normalise_name

MAX_DEPTH = 256


class IgnoreRules(Protocol):
    """The ignore rules in force inside one directory."""

    def enter(self, path: str, abs_path: str, names: Collection[str]) -> IgnoreRules | None:
        """The rules for inside directory `path`, whose entries are `names`.

        None means the directory is left out as a whole (a virtual environment, say).
        """
        ...

    def is_ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether the entry at canonical `path` is left out of the tree."""
        ...


@dataclass(frozen=True, slots=True)
class WalkWarning:
    """Something the walk could not take in, and why; the walk carried on."""

    path: str
    message: str


@dataclass(slots=True, kw_only=True)
class WalkedFile:
    """A regular file of the tree with the stat the cache keys on."""

    path: str
    abs_path: str
    size_bytes: int
    mtime_ns: int
    inode: int


@dataclass(slots=True, kw_only=True)
class WalkedDirectory:
    """A directory of the tree with its files and subdirectories."""

    path: str
    abs_path: str
    files: list[WalkedFile] = field(default_factory=list)
    directories: list[WalkedDirectory] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class WalkResult:
    """The tree as the walk found it, with what it left out."""

    root: WalkedDirectory
    warnings: list[WalkWarning]
    ignored: int
    file_count: int
    directory_count: int


def _is_inside(root_real: str, target: str) -> bool:
    return target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)


class _Walk:
    def __init__(self, root_real: str, on_progress: Callable[[int], None] | None) -> None:
        self.root_real = root_real
        self.on_progress = on_progress
        self.warnings: list[WalkWarning] = []
        self.ignored = 0
        self.files = 0
        self.directories = 0

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(WalkWarning(path, message))

    def directory(
        self, path: str, abs_path: str, rules: IgnoreRules, depth: int
    ) -> WalkedDirectory | None:
        """Walk one directory; None when it is left out (unlistable or ignored whole)."""
        try:
            with os.scandir(abs_path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            if path == ROOT:
                raise
            self.warn(path, f"cannot list directory ({error.strerror}); skipped")
            return None
        inner = rules.enter(path, abs_path, [entry.name for entry in entries])
        if inner is None:
            self.ignored += 1
            return None
        walked = WalkedDirectory(path=path, abs_path=abs_path)
        seen: set[str] = set()
        for entry in entries:
            child_path = self._child_path(path, entry.name, seen)
            if child_path is not None:
                self._entry(walked, entry, child_path, inner, depth)
        self.directories += 1
        if self.on_progress is not None:
            self.on_progress(self.files)
        return walked

    def _child_path(self, parent: str, name: str, seen: set[str]) -> str | None:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(name).decode("utf-8", "backslashreplace")
            self.warn(join(parent, shown), "file name is not valid UTF-8; skipped")
            return None
        canonical = normalise_name(name)
        if canonical in seen:
            self.warn(join(parent, canonical), "two names are the same once normalised; skipped")
            return None
        seen.add(canonical)
        return join(parent, canonical)

    def _entry(
        self,
        parent: WalkedDirectory,
        entry: os.DirEntry[str],
        path: str,
        rules: IgnoreRules,
        depth: int,
    ) -> None:
        try:
            is_link = entry.is_symlink()
            is_dir = not is_link and entry.is_dir(follow_symlinks=False)
        except OSError as error:
            self.warn(path, f"cannot stat ({error.strerror}); skipped")
            return
        if rules.is_ignored(path, is_dir=is_dir):
            self.ignored += 1
        elif is_link:
            self._symlink(entry, path)
        elif is_dir:
            if depth >= MAX_DEPTH:
                self.warn(path, f"deeper than {MAX_DEPTH} directories; skipped")
                return
            child = self.directory(path, entry.path, rules, depth + 1)
            if child is not None:
                parent.directories.append(child)
        else:
            self._file(parent, entry, path)

    def _file(self, parent: WalkedDirectory, entry: os.DirEntry[str], path: str) -> None:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as error:
            self.warn(path, f"cannot stat ({error.strerror}); skipped")
            return
        if not stat.S_ISREG(info.st_mode):
            self.warn(path, "not a regular file or directory; skipped")
            return
        parent.files.append(
            WalkedFile(
                path=path,
                abs_path=entry.path,
                size_bytes=info.st_size,
                mtime_ns=info.st_mtime_ns,
                inode=info.st_ino,
            )
        )
        self.files += 1

    def _symlink(self, entry: os.DirEntry[str], path: str) -> None:
        # realpath only reads links, never the target itself; a target outside the
        # workspace is not even stat'ed.
        target = os.path.realpath(entry.path)
        if not _is_inside(self.root_real, target):
            self.warn(path, "symbolic link points outside the workspace; not followed")
            return
        try:
            os.stat(entry.path)
        except OSError as error:
            if error.errno == errno.ELOOP:
                self.warn(path, "symbolic link loops; not followed")
            else:
                self.warn(path, "symbolic link is broken; not followed")
            return
        # A link to something inside the workspace: the target is in the tree at
        # its own path, so the link adds nothing.
        self.ignored += 1


def walk(
    root: str | os.PathLike[str],
    rules: IgnoreRules,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> WalkResult:
    """Walk the workspace at `root` under `rules`.

    `on_progress` is told the number of files seen so far after each directory.
    Raises `OSError` only when the root itself cannot be listed.
    """
    root_real = os.path.realpath(root)
    state = _Walk(root_real, on_progress)
    walked = state.directory(ROOT, root_real, rules, 0)
    assert walked is not None, "the root is never left out"
    return WalkResult(
        root=walked,
        warnings=state.warnings,
        ignored=state.ignored,
        file_count=state.files,
        directory_count=state.directories,
    )


def iter_directories(root: WalkedDirectory) -> Iterator[WalkedDirectory]:
    """Every directory of a walked tree, `root` included, parents before children."""
    stack = [root]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.directories))


def iter_files(root: WalkedDirectory) -> Iterator[WalkedFile]:
    """Every file of a walked tree."""
    for directory in iter_directories(root):
        yield from directory.files
