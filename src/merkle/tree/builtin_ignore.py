"""The built-in ignore rules: entries never part of a tree, whatever the rule files say.

Version control and tool directories, caches, and files that look like
secrets (`.env*`, private keys, certificates, credential files). They come
before any `.gitignore` and cannot be negated, and generation checks them
again before it reads a file.
"""

from __future__ import annotations

import fnmatch
import re

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


def is_builtin_ignored(name: str, *, is_dir: bool) -> bool:
    """Whether the built-in rules leave out an entry called `name`."""
    if is_dir and name in BUILTIN_DIRECTORIES:
        return True
    return _BUILTIN_NAME_RE.match(name.lower()) is not None
