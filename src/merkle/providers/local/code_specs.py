"""The line patterns `code_outline` reads each language with.

Every pattern is anchored at a line start (`re.MULTILINE`) and matches one
declaration; a named group `item` narrows what is shown, otherwise the whole
match is. Patterns avoid nested unbounded repetition, so a hostile file
cannot make them backtrack for long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from merkle.providers.local.formats import Format

_M = re.MULTILINE
_MI = re.MULTILINE | re.IGNORECASE


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclarationKind:
    """One kind of declaration: its section title, its nouns and its patterns.

    `counted` kinds appear in the facts line (`3 functions, 2 classes`);
    imports and the like are listed but not counted.
    """

    title: str
    noun: str
    plural: str
    patterns: tuple[re.Pattern[str], ...]
    counted: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeSpec:
    """How to outline one language."""

    label: str
    comment_prefixes: tuple[str, ...]
    kinds: tuple[DeclarationKind, ...]
    header: re.Pattern[str] | None = None


def _kind(
    title: str, noun: str, plural: str, *patterns: str, flags: int = _M, counted: bool = True
) -> DeclarationKind:
    return DeclarationKind(
        title=title,
        noun=noun,
        plural=plural,
        patterns=tuple(re.compile(pattern, flags) for pattern in patterns),
        counted=counted,
    )


_C_COMMENTS = ("//", "/*", "*")
_HASH_COMMENTS = ("#",)

_JS_KINDS = (
    _kind(
        "Imports",
        "import",
        "imports",
        r"""^[ \t]*import\s+(?:[^'";]{0,500}?\s+from\s+)?['"](?P<item>[^'"\n]+)['"]""",
        r"""\brequire\(\s*['"](?P<item>[^'"\n]+)['"]\s*\)""",
        counted=False,
    ),
    _kind(
        "Exports",
        "export",
        "exports",
        r"^export\s+(?:default\s+)?(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?"
        r"(?:function\*?|class|const|let|var|interface|type|enum|namespace)\s+(?P<item>[\w$]+)",
        r"^export\s+default\s+(?P<item>[\w$.]+)\s*;?\s*$",
        r"^export\s*(?P<item>\{[^}\n]*\})",
        r"^module\.exports\b[^=\n]*",
    ),
    _kind(
        "Functions",
        "function",
        "functions",
        r"^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:async\s+)?function\*?\s*[\w$]+\s*"
        r"(?:<[^>\n]*>)?\s*\([^)]{0,500}\)(?:\s*:\s*[^{;\n]+)?",
        r"^(?:export\s+)?(?:const|let|var)\s+[\w$]+\s*(?::[^=\n]+)?=\s*(?:async\s+)?"
        r"(?:\([^)]{0,500}\)|[\w$]+)\s*(?::\s*[^=\n]+)?=>",
    ),
    _kind(
        "Classes",
        "class",
        "classes",
        r"^[ \t]*(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?class\s+[\w$]+"
        r"(?:<[^>\n]*>)?(?:\s+extends\s+[\w$.]+(?:<[^>\n]*>)?)?(?:\s+implements\s+[\w$., <>]+)?",
    ),
    _kind(
        "Types",
        "type",
        "types",
        r"^[ \t]*(?:export\s+)?(?:declare\s+)?(?:interface|type|enum)\s+[\w$]+(?:<[^>\n]*>)?",
    ),
)

_GO_KINDS = (
    _kind(
        "Imports",
        "import",
        "imports",
        r'^import\s+(?:[\w.]+\s+)?"(?P<item>[^"\n]+)"',
        r'^[ \t]+(?:[\w.]+[ \t]+)?"(?P<item>[^"\n]+)"[ \t]*$',
        counted=False,
    ),
    _kind("Types", "type", "types", r"^type\s+\w+(?:\[[^\]\n]*\])?\s+[\w.*\[\]]+"),
    _kind(
        "Functions",
        "function",
        "functions",
        r"^func\s+\w+(?:\[[^\]\n]*\])?\s*\([^)]{0,500}\)[^{\n]*",
    ),
    _kind("Methods", "method", "methods", r"^func\s+\([^)\n]*\)\s*\w+\s*\([^)]{0,500}\)[^{\n]*"),
)

_RUST_VISIBILITY = r"(?:pub(?:\([^)\n]*\))?\s+)?"
_RUST_KINDS = (
    _kind(
        "Uses",
        "use",
        "uses",
        rf"^[ \t]*{_RUST_VISIBILITY}use\s+(?P<item>[^;]{{1,300}});",
        rf"^[ \t]*{_RUST_VISIBILITY}mod\s+\w+",
        counted=False,
    ),
    _kind(
        "Types",
        "type",
        "types",
        rf"^[ \t]*{_RUST_VISIBILITY}(?:struct|enum|trait|union|type)\s+\w+(?:<[^>{{;=\n]*>)?",
    ),
    _kind("Implementations", "impl block", "impl blocks", r"^[ \t]*impl\b[^{\n]*"),
    _kind(
        "Functions",
        "function",
        "functions",
        rf"^[ \t]*{_RUST_VISIBILITY}(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
        r'(?:extern\s+"[^"\n]*"\s+)?fn\s+\w+(?:<[^>{\n]*>)?\s*\([^)]{0,500}\)(?:\s*->\s*[^{;\n]+)?',
    ),
    _kind("Macros", "macro", "macros", r"^[ \t]*macro_rules!\s*\w+"),
)

_JAVA_KINDS = (
    _kind(
        "Imports",
        "import",
        "imports",
        r"^import\s+(?:static\s+)?(?P<item>[\w.*]+)\s*;",
        counted=False,
    ),
    _kind(
        "Types",
        "type",
        "types",
        r"^[ \t]*(?:(?:public|protected|private|abstract|final|static|sealed|non-sealed|strictfp)"
        r"\s+)*(?:class|interface|enum|record|@interface)\s+\w+[^{\n]*",
    ),
    _kind(
        "Methods",
        "method",
        "methods",
        r"^[ \t]+(?:(?:public|protected|private|static|final|abstract|synchronized|native|default)"
        r"\s+)+(?:<[^>\n]+>\s+)?[\w.<>\[\],?]+(?:<[^>\n]*>)?\s+\w+\s*\([^)]{0,500}\)",
    ),
)

_KOTLIN_MODIFIERS = (
    r"(?:(?:public|private|protected|internal|override|open|abstract|final|sealed|data|enum|"
    r"annotation|inner|value|inline|suspend|operator|infix|tailrec|external)\s+)*"
)
_KOTLIN_KINDS = (
    _kind("Imports", "import", "imports", r"^import\s+(?P<item>[\w.*]+)", counted=False),
    _kind(
        "Types",
        "type",
        "types",
        rf"^[ \t]*{_KOTLIN_MODIFIERS}(?:fun\s+)?(?:class|interface|object)\s+\w+[^{{\n]*",
    ),
    _kind(
        "Functions",
        "function",
        "functions",
        rf"^[ \t]*{_KOTLIN_MODIFIERS}fun\s+(?:<[^>\n]+>\s+)?[\w.]+\s*\([^)]{{0,500}}\)"
        r"(?:\s*:\s*[^{=\n]+)?",
    ),
)

_C_KINDS = (
    _kind(
        "Includes",
        "include",
        "includes",
        r'^[ \t]*#[ \t]*include[ \t]*(?P<item>[<"][^>"\n]+[>"])',
        counted=False,
    ),
    _kind("Macros", "macro", "macros", r"^[ \t]*#[ \t]*define[ \t]+(?P<item>\w+(?:\([^)\n]*\))?)"),
    _kind(
        "Types",
        "type",
        "types",
        r"^[ \t]*(?:typedef\s+)?(?:template\s*<[^>\n]*>\s*)?"
        r"(?:struct|class|union|enum(?:\s+class)?)\s+\w+(?:\s*:\s*[^{;\n]+)?(?=\s*[{;])",
        r"^[ \t]*namespace\s+[\w:]+",
    ),
    _kind(
        "Functions",
        "function",
        "functions",
        r"^[ \t]{0,4}(?!(?:return|else|if|for|while|switch|case|goto|throw|delete|new|using|"
        r"typedef|do|sizeof)\b)(?:[\w:<>,*&~]+[ \t]+)+[*&]*~?[\w:]+[ \t]*\([^;{}()]{0,500}\)"
        r"(?:[ \t]*(?:const|noexcept|override|final))*(?=[ \t]*(?:[;{]|$))",
    ),
)

_SHELL_KINDS = (
    _kind(
        "Functions",
        "function",
        "functions",
        r"^[ \t]*function[ \t]+(?P<item>[\w:.-]+)",
        r"^[ \t]*(?P<item>[\w:.-]+)[ \t]*\(\)",
    ),
    _kind(
        "Exported variables",
        "exported variable",
        "exported variables",
        r"^[ \t]*export[ \t]+(?P<item>\w+)",
    ),
    _kind(
        "Sourced files",
        "sourced file",
        "sourced files",
        r"^[ \t]*(?:source|\.)[ \t]+(?P<item>\S+)",
        counted=False,
    ),
)

_DOCKER_KINDS = (
    _kind("Base images", "stage", "stages", r"^[ \t]*FROM[ \t]+(?P<item>.+)$", flags=_MI),
    _kind(
        "Arguments and environment",
        "variable",
        "variables",
        r"^[ \t]*(?:ARG|ENV)[ \t]+(?P<item>[^\s=]+)",
        flags=_MI,
        counted=False,
    ),
    _kind("Exposed ports", "port", "ports", r"^[ \t]*EXPOSE[ \t]+(?P<item>.+)$", flags=_MI),
    _kind(
        "Commands",
        "command",
        "commands",
        r"^[ \t]*(?:ENTRYPOINT|CMD)[ \t]+.+$",
        flags=_MI,
        counted=False,
    ),
)

_MAKE_KINDS = (
    _kind(
        "Targets",
        "target",
        "targets",
        r"^(?P<item>(?!\.)[\w./%$()-][^:=#\n\t]*?[ \t]*::?(?!=)[^=#\n]*)$",
    ),
    _kind(
        "Variables",
        "variable",
        "variables",
        r"^(?P<item>[A-Za-z_][\w.-]*)[ \t]*(?:::=|:=|\?=|\+=|!=|=)",
        counted=False,
    ),
    _kind("Includes", "include", "includes", r"^-?include[ \t]+(?P<item>.+)$", counted=False),
)

_SQL_KINDS = (
    _kind(
        "Definitions",
        "definition",
        "definitions",
        r"^[ \t]*CREATE[ \t]+(?:OR[ \t]+REPLACE[ \t]+)?(?:TEMP(?:ORARY)?[ \t]+)?(?:UNIQUE[ \t]+)?"
        r"(?:TABLE|VIEW|INDEX|TRIGGER|FUNCTION|PROCEDURE|TYPE|SCHEMA|SEQUENCE)[ \t]+"
        r"(?:IF[ \t]+NOT[ \t]+EXISTS[ \t]+)?[\w.\"]+",
        flags=_MI,
    ),
)

_RUBY_KINDS = (
    _kind(
        "Imports",
        "import",
        "imports",
        r"""^[ \t]*(?:require|require_relative|load)[ \t(]+['"](?P<item>[^'"\n]+)['"]""",
        counted=False,
    ),
    _kind("Modules", "module", "modules", r"^[ \t]*module[ \t]+[\w:]+"),
    _kind("Classes", "class", "classes", r"^[ \t]*class[ \t]+[\w:]+(?:[ \t]*<[ \t]*[\w:]+)?"),
    _kind("Methods", "method", "methods", r"^[ \t]*def[ \t]+(?:self\.)?[\w?!=\[\]<>+*/%-]+[^\n]*"),
)

_PHP_KINDS = (
    _kind("Imports", "import", "imports", r"^use[ \t]+(?P<item>[\w\\]+)", counted=False),
    _kind(
        "Types",
        "type",
        "types",
        r"^[ \t]*(?:(?:abstract|final|readonly)[ \t]+)*(?:class|interface|trait|enum)[ \t]+\w+"
        r"[^{\n]*",
    ),
    _kind(
        "Functions",
        "function",
        "functions",
        r"^[ \t]*(?:(?:public|protected|private|static|abstract|final)[ \t]+)*function[ \t]+&?\w+"
        r"[ \t]*\([^)]{0,500}\)(?:[ \t]*:[ \t]*[^{;\n]+)?",
    ),
)

_CSHARP_MODIFIERS = (
    r"(?:(?:public|protected|private|internal|static|sealed|abstract|partial|readonly|async|"
    r"virtual|override|unsafe|extern|new)\s+)*"
)
_CSHARP_KINDS = (
    _kind("Imports", "import", "imports", r"^using[ \t]+(?P<item>[\w.= ]+);", counted=False),
    _kind(
        "Types",
        "type",
        "types",
        rf"^[ \t]*{_CSHARP_MODIFIERS}(?:class|struct|interface|enum|record)\s+\w+[^{{\n]*",
    ),
    _kind(
        "Methods",
        "method",
        "methods",
        r"^[ \t]+(?:(?:public|protected|internal|static|virtual|override|abstract|async)\s+)+"
        r"(?!(?:class|struct|record|interface|enum)\b)[\w.<>\[\],?]+\s+\w+\s*\([^)]{0,500}\)",
    ),
)

_SWIFT_MODIFIERS = r"(?:(?:public|open|internal|final|private|fileprivate|static|mutating)\s+)*"
_SWIFT_KINDS = (
    _kind("Imports", "import", "imports", r"^import[ \t]+(?P<item>[\w.]+)", counted=False),
    _kind(
        "Types",
        "type",
        "types",
        rf"^[ \t]*{_SWIFT_MODIFIERS}(?:class|struct|enum|protocol|actor|extension)\s+\w+[^{{\n]*",
    ),
    _kind(
        "Functions",
        "function",
        "functions",
        rf"^[ \t]*{_SWIFT_MODIFIERS}func\s+\w+[^(\n]*\([^)]{{0,500}}\)[^{{\n]*",
    ),
)

_LUA_KINDS = (
    _kind(
        "Imports",
        "import",
        "imports",
        r"""\brequire[ \t]*\(?[ \t]*['"](?P<item>[^'"\n]+)['"]""",
        counted=False,
    ),
    _kind(
        "Functions",
        "function",
        "functions",
        r"^[ \t]*(?:local[ \t]+)?function[ \t]+[\w.:]+[ \t]*\([^)\n]{0,500}\)",
    ),
)

_PYTHON_KINDS = (
    _kind("Classes", "class", "classes", r"^[ \t]*class[ \t]+\w+(?:\([^)]{0,500}\))?"),
    _kind(
        "Functions",
        "function",
        "functions",
        r"^[ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*\([^)]{0,500}\)(?:[ \t]*->[ \t]*[^:\n]+)?",
    ),
)

SPECS: dict[Format, CodeSpec] = {
    Format.JAVASCRIPT: CodeSpec(
        label="JavaScript source", comment_prefixes=_C_COMMENTS, kinds=_JS_KINDS
    ),
    Format.TYPESCRIPT: CodeSpec(
        label="TypeScript source", comment_prefixes=_C_COMMENTS, kinds=_JS_KINDS
    ),
    Format.GO: CodeSpec(
        label="Go source",
        comment_prefixes=_C_COMMENTS,
        kinds=_GO_KINDS,
        header=re.compile(r"^package[ \t]+\w+", _M),
    ),
    Format.RUST: CodeSpec(label="Rust source", comment_prefixes=_C_COMMENTS, kinds=_RUST_KINDS),
    Format.JAVA: CodeSpec(
        label="Java source",
        comment_prefixes=_C_COMMENTS,
        kinds=_JAVA_KINDS,
        header=re.compile(r"^package[ \t]+[\w.]+", _M),
    ),
    Format.KOTLIN: CodeSpec(
        label="Kotlin source",
        comment_prefixes=_C_COMMENTS,
        kinds=_KOTLIN_KINDS,
        header=re.compile(r"^package[ \t]+[\w.]+", _M),
    ),
    Format.C: CodeSpec(label="C source", comment_prefixes=_C_COMMENTS, kinds=_C_KINDS),
    Format.CPP: CodeSpec(label="C++ source", comment_prefixes=_C_COMMENTS, kinds=_C_KINDS),
    Format.CSHARP: CodeSpec(
        label="C# source",
        comment_prefixes=_C_COMMENTS,
        kinds=_CSHARP_KINDS,
        header=re.compile(r"^namespace[ \t]+[\w.]+", _M),
    ),
    Format.RUBY: CodeSpec(label="Ruby source", comment_prefixes=_HASH_COMMENTS, kinds=_RUBY_KINDS),
    Format.PHP: CodeSpec(
        label="PHP source",
        comment_prefixes=(*_C_COMMENTS, "#"),
        kinds=_PHP_KINDS,
        header=re.compile(r"^namespace[ \t]+[\w\\]+", _M),
    ),
    Format.SWIFT: CodeSpec(label="Swift source", comment_prefixes=_C_COMMENTS, kinds=_SWIFT_KINDS),
    Format.LUA: CodeSpec(label="Lua source", comment_prefixes=("--",), kinds=_LUA_KINDS),
    Format.SHELL: CodeSpec(
        label="Shell script",
        comment_prefixes=_HASH_COMMENTS,
        kinds=_SHELL_KINDS,
        header=re.compile(r"\A#![^\n]+"),
    ),
    Format.DOCKERFILE: CodeSpec(
        label="Dockerfile", comment_prefixes=_HASH_COMMENTS, kinds=_DOCKER_KINDS
    ),
    Format.MAKEFILE: CodeSpec(label="Makefile", comment_prefixes=_HASH_COMMENTS, kinds=_MAKE_KINDS),
    Format.SQL: CodeSpec(label="SQL script", comment_prefixes=("--",), kinds=_SQL_KINDS),
    Format.PYTHON: CodeSpec(
        label="Python source", comment_prefixes=_HASH_COMMENTS, kinds=_PYTHON_KINDS
    ),
}
"""Every language read by pattern. Python is here for files `ast` cannot parse."""
