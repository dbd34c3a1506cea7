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
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from merkle.tree.paths import ROOT, join, name_of, normalise_name

MAX_DEPTH = 256

# A file or directory modified this close before the scan that recorded it may
# change again within the same timestamp tick without its stat changing (git's
# "racily clean" entries): its cache entry is not trusted. Two seconds covers
# the coarsest common file systems.
RACY_MARGIN_NS = 2_000_000_000
_HARDLINKED = (
    "has {links} hard links, so its content may live outside the workspace: it is in the"
    " tree, but its text is not sent to providers unless allow_hardlinks = true under"
    " [generation]"
)


class IgnoreRules(Protocol):
    """The ignore rules in force inside one directory."""

    def enter(self, path: str, abs_path: str, names: Collection[str]) -> IgnoreRules | None:
        """The rules for inside directory `path`, whose entries include `names`.

        None means the directory is left out as a whole (a virtual environment, say).
        """
        ...

    def is_ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether the entry at canonical `path` is left out of the tree."""
        ...

    def problems(self) -> list[tuple[str, str]]:
        """`(path, message)` for what is wrong with the rule files of the directory last
        entered (each problem skips a rule, never the scan)."""
        ...

    @property
    def signature(self) -> str:
        """A fingerprint of the rule files of the directory entered: it changes when they do."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedListing:
    """What the previous scan saw in one directory, to skip listing it again."""

    mtime_ns: int
    inode: int
    checked_at_ns: int
    rules_signature: str
    files: tuple[str, ...]
    directories: tuple[str, ...]
    ignored: int
    warnings: int


@dataclass(frozen=True, slots=True)
class WalkWarning:
    """Something the walk could not take in, and why; the walk carried on."""

    path: str
    message: str


class WalkedFile(NamedTuple):
    """A regular file of the tree with the stat the cache keys on.

    A named tuple: a walk makes one per file, and tuples are the cheapest to make.
    """

    path: str
    abs_path: str
    size_bytes: int
    mtime_ns: int
    inode: int


@dataclass(slots=True, kw_only=True)
class WalkedDirectory:
    """A directory of the tree with its files and subdirectories.

    `listing_changed` says whether its entries differ from the cached listing
    (always true without one); `checked_at_ns` is when its listing was taken.
    `ignored` and `warnings` count its own entries left out by the rules and
    those that could not be taken in.
    """

    path: str
    abs_path: str
    mtime_ns: int
    inode: int
    rules_signature: str
    checked_at_ns: int
    listing_changed: bool = True
    ignored: int = 0
    warnings: int = 0
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
    def __init__(
        self,
        root_real: str,
        *,
        cache: Mapping[str, CachedListing],
        now_ns: int,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        self.root_real = root_real
        self.cache = cache
        self.now_ns = now_ns
        self.on_progress = on_progress
        self.warnings: list[WalkWarning] = []
        self.ignored = 0
        self.files = 0
        self.directories = 0

    def warn(self, parent: WalkedDirectory | None, path: str, message: str) -> None:
        self.warnings.append(WalkWarning(path, message))
        if parent is not None:
            parent.warnings += 1

    def ignore(self, parent: WalkedDirectory | None) -> None:
        self.ignored += 1
        if parent is not None:
            parent.ignored += 1

    def directory(
        self,
        path: str,
        abs_path: str,
        info: os.stat_result,
        rules: IgnoreRules,
        *,
        parent: WalkedDirectory | None,
        depth: int,
        rules_dirty: bool,
    ) -> WalkedDirectory | None:
        """Walk one directory; None when it is left out (unlistable or ignored whole)."""
        if depth > MAX_DEPTH:
            self.warn(parent, path, f"deeper than {MAX_DEPTH} directories; skipped")
            return None
        cached = self.cache.get(path)
        walked = None
        if cached is not None and not rules_dirty and _is_trusted(cached, info):
            walked = self._from_cache(path, abs_path, info, cached, rules, depth)
        if walked is None:
            walked = self._listed(path, abs_path, info, cached, rules, parent, depth, rules_dirty)
        if walked is not None:
            self.directories += 1
            self.files += len(walked.files)
            if self.on_progress is not None:
                self.on_progress(self.files)
        return walked

    def _from_cache(
        self,
        path: str,
        abs_path: str,
        info: os.stat_result,
        cached: CachedListing,
        rules: IgnoreRules,
        depth: int,
    ) -> WalkedDirectory | None:
        """The directory's entries as cached, each stat'ed again; None if any moved."""
        inner = rules.enter(path, abs_path, (*cached.files, *cached.directories))
        if inner is None or inner.signature != cached.rules_signature:
            return None
        # The hot loop of a rescan: one lstat per file, nothing else.
        prefix = "" if path == ROOT else f"{path}/"
        files: list[WalkedFile] = []
        for name in cached.files:
            child = f"{abs_path}/{name}"
            try:
                child_info = os.lstat(child)
            except OSError:
                return None
            if not stat.S_ISREG(child_info.st_mode):
                return None
            files.append(
                WalkedFile(
                    prefix + name,
                    child,
                    child_info.st_size,
                    child_info.st_mtime_ns,
                    child_info.st_ino,
                )
            )
        subdirectories: list[tuple[str, str, os.stat_result]] = []
        for name in cached.directories:
            child = f"{abs_path}/{name}"
            try:
                child_info = os.lstat(child)
            except OSError:
                return None
            if not stat.S_ISDIR(child_info.st_mode):
                return None
            subdirectories.append((join(path, name), child, child_info))
        walked = _walked_directory(
            path, abs_path, info, cached.rules_signature, cached.checked_at_ns
        )
        walked.listing_changed = False
        walked.files = files
        walked.ignored = cached.ignored
        self.ignored += cached.ignored
        for child_path, child_abs, child_info in subdirectories:
            sub = self.directory(
                child_path,
                child_abs,
                child_info,
                inner,
                parent=walked,
                depth=depth + 1,
                rules_dirty=False,
            )
            if sub is not None:
                walked.directories.append(sub)
        return walked

    def _listed(
        self,
        path: str,
        abs_path: str,
        info: os.stat_result,
        cached: CachedListing | None,
        rules: IgnoreRules,
        parent: WalkedDirectory | None,
        depth: int,
        rules_dirty: bool,
    ) -> WalkedDirectory | None:
        """The directory's entries as listed from disk, under the ignore rules."""
        try:
            with os.scandir(abs_path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            if path == ROOT:
                raise
            self.warn(parent, path, f"cannot list directory ({error.strerror}); skipped")
            return None
        inner = rules.enter(path, abs_path, [entry.name for entry in entries])
        if inner is None:
            self.ignore(parent)
            return None
        signature = inner.signature
        walked = _walked_directory(path, abs_path, info, signature, self.now_ns)
        for rule_file, message in inner.problems():
            self.warn(walked, rule_file, message)
        children_dirty = rules_dirty or cached is None or cached.rules_signature != signature
        seen: set[str] = set()
        for entry in entries:
            child_path = self._child_path(walked, entry.name, seen)
            if child_path is not None:
                self._entry(walked, entry, child_path, inner, depth, children_dirty)
        walked.listing_changed = cached is None or (
            tuple(_names(walked.files)) != cached.files
            or tuple(_names(walked.directories)) != cached.directories
        )
        return walked

    def _child_path(self, parent: WalkedDirectory, name: str, seen: set[str]) -> str | None:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(name).decode("utf-8", "backslashreplace")
            self.warn(parent, join(parent.path, shown), "file name is not valid UTF-8; skipped")
            return None
        canonical = normalise_name(name)
        if canonical in seen:
            path = join(parent.path, canonical)
            self.warn(parent, path, "two names are the same once normalised; skipped")
            return None
        seen.add(canonical)
        return join(parent.path, canonical)

    def _entry(
        self,
        parent: WalkedDirectory,
        entry: os.DirEntry[str],
        path: str,
        rules: IgnoreRules,
        depth: int,
        rules_dirty: bool,
    ) -> None:
        try:
            is_link = entry.is_symlink()
            is_dir = not is_link and entry.is_dir(follow_symlinks=False)
            info = entry.stat(follow_symlinks=False)
        except OSError as error:
            self.warn(parent, path, f"cannot stat ({error.strerror}); skipped")
            return
        if rules.is_ignored(path, is_dir=is_dir):
            self.ignore(parent)
        elif is_link:
            self._symlink(parent, entry, path)
        elif is_dir:
            child = self.directory(
                path,
                entry.path,
                info,
                rules,
                parent=parent,
                depth=depth + 1,
                rules_dirty=rules_dirty,
            )
            if child is not None:
                parent.directories.append(child)
        elif stat.S_ISREG(info.st_mode):
            if info.st_nlink > 1:
                self.warn(parent, path, _HARDLINKED.format(links=info.st_nlink))
            parent.files.append(_walked_file(path, entry.path, info))
        else:
            self.warn(parent, path, "not a regular file or directory; skipped")

    def _symlink(self, parent: WalkedDirectory, entry: os.DirEntry[str], path: str) -> None:
        # realpath only reads links, never the target itself; a target outside the
        # workspace is not even stat'ed.
        target = os.path.realpath(entry.path)
        if not _is_inside(self.root_real, target):
            self.warn(parent, path, "symbolic link points outside the workspace; not followed")
            return
        try:
            os.stat(entry.path)
        except OSError as error:
            if error.errno == errno.ELOOP:
                self.warn(parent, path, "symbolic link loops; not followed")
            else:
                self.warn(parent, path, "symbolic link is broken; not followed")
            return
        # A link to something inside the workspace: the target is in the tree at
        # its own path, so the link adds nothing.
        self.ignore(parent)


def _is_trusted(cached: CachedListing, info: os.stat_result) -> bool:
    """Whether the directory's stat proves its entries unchanged since they were cached."""
    return (
        cached.warnings == 0
        and cached.mtime_ns == info.st_mtime_ns
        and cached.inode == info.st_ino
        and info.st_mtime_ns < cached.checked_at_ns - RACY_MARGIN_NS
    )


def _names(children: list[WalkedFile] | list[WalkedDirectory]) -> list[str]:
    return [name_of(child.path) for child in children]


def _walked_file(path: str, abs_path: str, info: os.stat_result) -> WalkedFile:
    return WalkedFile(
        path=path,
        abs_path=abs_path,
        size_bytes=info.st_size,
        mtime_ns=info.st_mtime_ns,
        inode=info.st_ino,
    )


def _walked_directory(
    path: str, abs_path: str, info: os.stat_result, signature: str, checked_at_ns: int
) -> WalkedDirectory:
    return WalkedDirectory(
        path=path,
        abs_path=abs_path,
        mtime_ns=info.st_mtime_ns,
        inode=info.st_ino,
        rules_signature=signature,
        checked_at_ns=checked_at_ns,
    )


def walk(
    root: str | os.PathLike[str],
    rules: IgnoreRules,
    *,
    cache: Mapping[str, CachedListing] | None = None,
    now_ns: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> WalkResult:
    """Walk the workspace at `root` under `rules`.

    With `cache` (the previous scan's listings), a directory whose stat and rule
    files are unchanged is not listed again: its cached entries are stat'ed
    instead. `now_ns` is recorded as the time of each fresh listing.
    `on_progress` is told the number of files seen so far after each directory.
    Raises `OSError` only when the root itself cannot be listed.
    """
    root_real = os.path.realpath(root)
    state = _Walk(root_real, cache=cache or {}, now_ns=now_ns, on_progress=on_progress)
    walked = state.directory(
        ROOT, root_real, os.stat(root_real), rules, parent=None, depth=0, rules_dirty=False
    )
    if walked is None:
        raise NotADirectoryError(f"cannot walk the workspace root {root_real}")
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
