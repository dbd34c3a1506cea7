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

import fnmatch
import os
import re
from collections.abc import Collection

from pathspec import GitIgnoreSpec

from merkle.tree.paths import ROOT, name_of

RULE_FILES = (".gitignore", ".merkleignore")
MAX_RULE_FILE_BYTES = 1 << 20

BUILTIN_DIRECTORIES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".merkle",
        ".venv",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".hypothesis",
        ".eggs",
        ".ssh",
        ".gnupg",
        ".aws",
    }
)

# Matched against the lower-cased name of any entry.
BUILTIN_NAME_PATTERNS = (
    "*.pyc",
    "*.pyo",
    ".ds_store",
    # Secrets: environment files, private keys, certificates, credentials.
    ".env*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.crt",
    "*.cer",
    "*.der",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.ppk",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".htpasswd",
    "credentials",
    ".credentials",
    "credentials.json",
    "credentials.y*ml",
    "credentials.toml",
    "*credentials*.json",
    "service-account*.json",
    "secrets.json",
    "secrets.y*ml",
    "secrets.toml",
    "secrets.env",
    "*.tfvars",
    "*.tfstate",
)
_BUILTIN_NAME_RE = re.compile("|".join(fnmatch.translate(p) for p in BUILTIN_NAME_PATTERNS))
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def is_builtin_ignored(name: str, *, is_dir: bool) -> bool:
    """Whether the built-in rules leave out an entry called `name`."""
    if is_dir and name in BUILTIN_DIRECTORIES:
        return True
    return _BUILTIN_NAME_RE.match(name.lower()) is not None


def _read_rule_file(abs_path: str) -> list[str]:
    # Never through a link: a rule file linked from outside must not be read.
    try:
        fd = os.open(abs_path, _OPEN_FLAGS)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_RULE_FILE_BYTES)
    return data.decode("utf-8", "replace").splitlines()


class WorkspaceIgnore:
    """The rules in force inside one directory: the built-ins plus the rule files above it."""

    def __init__(self, specs: tuple[tuple[str, GitIgnoreSpec], ...] = ()) -> None:
        self._specs = specs

    def enter(self, path: str, abs_path: str, names: Collection[str]) -> WorkspaceIgnore | None:
        """The rules inside directory `path`; None for a virtual environment."""
        if path != ROOT and "pyvenv.cfg" in names:
            return None
        lines: list[str] = []
        if path == ROOT and ".git" in names:
            lines += _read_rule_file(os.path.join(abs_path, ".git", "info", "exclude"))
        for rule_file in RULE_FILES:
            if rule_file in names:
                lines += _read_rule_file(os.path.join(abs_path, rule_file))
        if not any(line.strip() and not line.startswith("#") for line in lines):
            return self
        return WorkspaceIgnore((*self._specs, (path, GitIgnoreSpec.from_lines(lines))))

    def is_ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether the entry at canonical `path` is left out."""
        if is_builtin_ignored(name_of(path), is_dir=is_dir):
            return True
        for base, spec in reversed(self._specs):
            relative = path if base == ROOT else path[len(base) + 1 :]
            result = spec.check_file(relative + "/" if is_dir else relative)
            if result.include is not None:
                return bool(result.include)
        return False
