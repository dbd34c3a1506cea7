"""Which format a file is in, and which language a path is written in.

Detection goes by the file's name first (`Dockerfile`, `Makefile`), then its
extension, then a shebang line, so it costs nothing and never guesses from
content beyond the first line.
"""

from __future__ import annotations

import posixpath
from enum import Enum


class Format(Enum):
    """A file format the local provider has an outliner for."""

    PYTHON = "Python"
    MARKDOWN = "Markdown"
    RST = "reStructuredText"
    JSON = "JSON"
    TOML = "TOML"
    YAML = "YAML"
    INI = "INI"
    CSV = "CSV"
    JAVASCRIPT = "JavaScript"
    TYPESCRIPT = "TypeScript"
    GO = "Go"
    RUST = "Rust"
    JAVA = "Java"
    KOTLIN = "Kotlin"
    C = "C"
    CPP = "C++"
    CSHARP = "C#"
    RUBY = "Ruby"
    PHP = "PHP"
    SWIFT = "Swift"
    LUA = "Lua"
    SHELL = "Shell"
    DOCKERFILE = "Dockerfile"
    MAKEFILE = "Makefile"
    SQL = "SQL"
    TEXT = "Text"
    UNKNOWN = "Unknown"


_BY_EXTENSION: dict[str, Format] = {
    ".py": Format.PYTHON,
    ".pyi": Format.PYTHON,
    ".pyw": Format.PYTHON,
    ".md": Format.MARKDOWN,
    ".markdown": Format.MARKDOWN,
    ".mdx": Format.MARKDOWN,
    ".json": Format.JSON,
    ".ipynb": Format.JSON,
    ".toml": Format.TOML,
    ".yaml": Format.YAML,
    ".yml": Format.YAML,
    ".ini": Format.INI,
    ".cfg": Format.INI,
    ".csv": Format.CSV,
    ".js": Format.JAVASCRIPT,
    ".mjs": Format.JAVASCRIPT,
    ".cjs": Format.JAVASCRIPT,
    ".jsx": Format.JAVASCRIPT,
    ".ts": Format.TYPESCRIPT,
    ".tsx": Format.TYPESCRIPT,
    ".mts": Format.TYPESCRIPT,
    ".cts": Format.TYPESCRIPT,
    ".go": Format.GO,
    ".rs": Format.RUST,
    ".java": Format.JAVA,
    ".kt": Format.KOTLIN,
    ".kts": Format.KOTLIN,
    ".c": Format.C,
    ".h": Format.C,
    ".cc": Format.CPP,
    ".cpp": Format.CPP,
    ".cxx": Format.CPP,
    ".hh": Format.CPP,
    ".hpp": Format.CPP,
    ".hxx": Format.CPP,
    ".cs": Format.CSHARP,
    ".rb": Format.RUBY,
    ".rake": Format.RUBY,
    ".gemspec": Format.RUBY,
    ".php": Format.PHP,
    ".swift": Format.SWIFT,
    ".lua": Format.LUA,
    ".sh": Format.SHELL,
    ".bash": Format.SHELL,
    ".zsh": Format.SHELL,
    ".mk": Format.MAKEFILE,
    ".dockerfile": Format.DOCKERFILE,
    ".sql": Format.SQL,
    ".txt": Format.TEXT,
    ".rst": Format.RST,
    ".text": Format.TEXT,
}

_BY_NAME: dict[str, Format] = {
    "dockerfile": Format.DOCKERFILE,
    "containerfile": Format.DOCKERFILE,
    "makefile": Format.MAKEFILE,
    "rakefile": Format.RUBY,
    "gemfile": Format.RUBY,
    "gnumakefile": Format.MAKEFILE,
    "pipfile": Format.TOML,
    ".editorconfig": Format.INI,
    ".gitconfig": Format.INI,
    "readme": Format.TEXT,
    "license": Format.TEXT,
    "licence": Format.TEXT,
    "copying": Format.TEXT,
    "authors": Format.TEXT,
    "notice": Format.TEXT,
}

_BY_INTERPRETER: dict[str, Format] = {
    "python": Format.PYTHON,
    "python3": Format.PYTHON,
    "sh": Format.SHELL,
    "bash": Format.SHELL,
    "zsh": Format.SHELL,
    "dash": Format.SHELL,
    "ksh": Format.SHELL,
    "node": Format.JAVASCRIPT,
    "ruby": Format.RUBY,
    "php": Format.PHP,
    "lua": Format.LUA,
}

# Languages a directory summary names that have no outliner of their own.
_OTHER_LANGUAGES: dict[str, str] = {
    ".css": "CSS",
    ".scss": "SCSS",
    ".html": "HTML",
    ".htm": "HTML",
    ".xml": "XML",
    ".svg": "SVG",
    ".scala": "Scala",
    ".pl": "Perl",
    ".r": "R",
    ".dart": "Dart",
    ".ex": "Elixir",
    ".exs": "Elixir",
    ".erl": "Erlang",
    ".hs": "Haskell",
    ".ml": "OCaml",
    ".clj": "Clojure",
    ".vue": "Vue",
    ".svelte": "Svelte",
    ".proto": "Protocol Buffers",
    ".graphql": "GraphQL",
    ".tf": "Terraform",
    ".ps1": "PowerShell",
    ".bat": "Batch",
    ".lock": "Lock file",
}


def extension_of(path: str) -> str:
    """The lower-cased extension of `path` with its dot, or `""`."""
    name = posixpath.basename(path)
    stem, dot, extension = name.rpartition(".")
    return f".{extension.lower()}" if dot and stem else ""


def detect(path: str, text: str) -> Format:
    """The format of the file at `path` whose text is `text`."""
    name = posixpath.basename(path).lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith(("dockerfile.", "makefile.")):
        return _BY_NAME[name.partition(".")[0]]
    found = _BY_EXTENSION.get(extension_of(path))
    if found is not None:
        return found
    return _by_shebang(text)


def language_of(path: str) -> str | None:
    """The language or format a file at `path` is written in, by its name alone."""
    found = detect(path, "")
    if found is not Format.UNKNOWN:
        return str(found.value)
    return _OTHER_LANGUAGES.get(extension_of(path))


def _by_shebang(text: str) -> Format:
    if not text.startswith("#!"):
        return Format.UNKNOWN
    words = text.partition("\n")[0][2:].split()
    if not words:
        return Format.UNKNOWN
    interpreter = posixpath.basename(words[0])
    if interpreter == "env":
        # `#!/usr/bin/env -S python3 -u`: the interpreter is the first non-option.
        operands = [word for word in words[1:] if not word.startswith("-")]
        interpreter = operands[0] if operands else ""
    return _BY_INTERPRETER.get(interpreter.rstrip("0123456789."), Format.UNKNOWN)
