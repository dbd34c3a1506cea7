"""Redaction: every secret in a text replaced by `[REDACTED]`, and nothing else touched.

What is found, each time only the secret's own characters replaced (a key's
name, a URL's host, an annotation stay as they are):

- merkle's own shapes: private key blocks (whole), the issuers' key and token
  formats of `credentials.SPECIFIC_RULES`, credentials in URLs, AWS secret
  access keys, Azure account and shared-access keys, `Authorization: Basic` and
  bearer values, Stripe, SendGrid, GitLab, Twilio, npm and PyPI tokens;
- with `thorough`, the maintained detector: detect-secrets' plugins (their
  issuer formats, and the keyword plugin's secret-looking assignments, chosen
  by the file's type);
- a value assigned to a secret-looking name (`password`, `db_pass`,
  `AWS_SECRET_ACCESS_KEY`, `client_secret`...): a quoted literal anywhere,
  and in configuration-like files (`.env`, INI, YAML, shell, Dockerfile...)
  an unquoted one too. In code an unquoted value is an expression, not a
  secret: `password: bool = False` and `token: Token` are left alone.

detect-secrets is imported on the first thorough redaction: it takes a fifth
of a second, which commands that send nothing should not pay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from merkle.metadata.credentials import SPECIFIC_RULES

MARK = "[REDACTED]"

_KEY_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----.*?(-----END \1PRIVATE KEY( BLOCK)?-----|\Z)",
    re.DOTALL,
)

# (name, pattern, group of the secret: 0 for the whole match, needles): a pattern
# runs only on a text holding one of its needles (case-folded where marked `~`);
# `in` is far cheaper than a regular expression's search.
_Shape = tuple[str, re.Pattern[str], int, tuple[str, ...]]
_SPECIFIC_NEEDLES = {
    "AWS access key id": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "Anthropic API key": ("sk-ant-",),
    "OpenAI-style API key": ("sk-",),
    "GitHub token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "Slack token": ("xox",),
    "Google API key": ("AIza",),
    "JSON web token": ("eyJ",),
}
_OWN_SHAPES: tuple[_Shape, ...] = (
    *(
        (name, pattern, 0, _SPECIFIC_NEEDLES.get(name, ()))
        for name, pattern in SPECIFIC_RULES
        if name != "private key block"
    ),
    # The user may be empty, as in `redis://:password@host`.
    ("URL credentials", re.compile(r"://[^\s:/@'\"]*:([^\s@/'\"]+)@"), 1, ("://",)),
    (
        "AWS secret access key",
        re.compile(r"(?i)aws.{0,24}?secret.{0,24}?[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})\b"),
        1,
        ("~aws",),
    ),
    (
        "Azure key",
        re.compile(r"(?i)\b(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/=]{20,})"),
        1,
        ("~accountkey=", "~sharedaccesskey="),
    ),
    (
        "basic credentials",
        re.compile(
            # Base64 has a digit, `+`, `/` or padding somewhere: a word is not one.
            r"(?i)\bauthorization\b[\"']?\s*[:=,]\s*[\"']?basic\s+([A-Za-z0-9+/]{8,}={0,2})"
            r"|[\"']basic\s+((?=[A-Za-z]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2})[\"']"
        ),
        1,
        ("~authorization", '~"basic', "~'basic"),
    ),
    ("bearer token", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)"), 1, ("~bearer",)),
    (
        "Stripe key",
        re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"),
        0,
        ("k_live_", "k_test_"),
    ),
    (
        "SendGrid key",
        re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
        0,
        ("SG.",),
    ),
    (
        "GitLab token",
        re.compile(r"\bgl(?:pat|dt|ft|soat|rt|cbt)-[A-Za-z0-9_-]{20,}"),
        0,
        ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-"),
    ),
    ("Twilio key", re.compile(r"\bSK[0-9a-f]{32}\b"), 0, ("SK",)),
    (
        "npm token",
        re.compile(r"\b(npm_[A-Za-z0-9]{36})\b|_authToken=\s*([A-Za-z0-9][^\s\"']{7,})"),
        1,
        ("npm_", "_authToken"),
    ),
    ("PyPI token", re.compile(r"\bpypi-[A-Za-z0-9_-]{50,}"), 0, ("pypi-",)),
    (
        "Slack webhook",
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}"),
        0,
        ("hooks.slack.com",),
    ),
)
# detect-secrets' plugins, by secret type: the needles of their patterns. A type
# not listed (a plugin added later) always runs. The keyword-shaped plugins run
# on the lines that name a key, a password or a token only: over a whole text
# they cost more than everything else together.
_DETECTOR_NEEDLES: dict[str, tuple[str, ...]] = {
    "AWS Access Key": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "~aws"),
    "Artifactory Credentials": tuple(
        f"{before}{prefix}" for before in ' =:"' for prefix in ("AKC", "AP")
    ),
    "Azure Storage Account access key": ("AccountKey=",),
    "Basic Auth Credentials": ("://",),
    "GitHub Token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLab Token": ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "GR1348941", "glcbt-"),
    "JSON Web Token": ("eyJ",),
    "Mailchimp Access Key": ("-us",),
    "NPM tokens": ("_authToken",),
    "OpenAI Token": ("T3BlbkFJ",),
    "PyPI Token": ("pypi-",),
    "SendGrid API Key": ("SG.",),
    "Slack Token": ("xox", "hooks.slack.com"),
    "SoftLayer Credentials": ("~softlayer", "~sl"),
    "Square OAuth Secret": ("sq0csp-",),
    "Stripe Access Key": ("k_live_",),
    "Twilio API Key": ("AC", "SK"),
}
_BY_LINE = {
    "IBM Cloud IAM Key",
    "IBM COS HMAC Credentials",
    "SoftLayer Credentials",
    "Cloudant Credentials",
}
# Searched in the case-folded text: a case-blind search is several times slower.
_NAMED_SECRET = re.compile(r"key|pw|pass|token|secret")


def _present(needles: tuple[str, ...], text: str, folded: str) -> bool:
    """Whether `text` holds a needle (`~`: in the case-folded text); no needles: yes."""
    if not needles:
        return True
    return any(
        needle[1:] in folded if needle.startswith("~") else needle in text for needle in needles
    )


# A name that says its value is a secret, as the last word of an identifier
# (`db_password`, `stripe.api_key`, `AWS_SECRET_ACCESS_KEY`; not `bypass`, not
# `token_url`). The word is matched first, its boundaries then: a search that
# starts on every word of a text is several times slower.
_SECRET_NAME = (
    r"(?:(?<![A-Za-z0-9])|(?<=[_.-]))"
    r"(?:api[_-]?key|apikey|auth[_-]?key|access[_-]?key|private[_-]?key|secret(?:[_-]?key)?"
    r"|client[_-]?secret|token|passw(?:or)?d|pwd|pass|credentials?)s?(?![\w-])"
)
# Both are searched in the case-folded text (see `_NAMED_SECRET`).
_QUOTED_VALUE = re.compile(
    rf"{_SECRET_NAME}[\"']?\s*(?::=|=>|[:=])\s*(?P<quote>[\"'])(?P<value>[^\s\"']{{4,}})(?P=quote)"
)
_UNQUOTED_VALUE = re.compile(
    rf"(?m)^\s*(?:export\s+|env\s+|arg\s+|set\s+|-\s+)?[\"']?[\w.-]*?{_SECRET_NAME}[\"']?\s*[:=]\s*"
    r"(?P<value>[^\s\"'#;,]{4,})"
)
_CONFIG_SUFFIXES = (
    ".env", ".ini", ".cfg", ".conf", ".properties", ".yaml", ".yml", ".sh", ".bash", ".zsh",
    ".tfvars", ".npmrc", ".pypirc", ".netrc", ".service",
)  # fmt: skip
_CONFIG_NAMES = ("dockerfile", "containerfile", "makefile", "procfile", ".env")
# Not secrets but where one would be read from: a variable, a template, a placeholder.
# A format string (`%s:%s`, `{0}:{1}`) is where a value goes, not a value.
_REFERENCE = re.compile(
    r"^(?:\$\{?[A-Za-z_]|\{\{|\{\d*\}|%\(|%[sdr]|<[A-Za-z_-]+>$|true$|false$|null$|none$)",
    re.IGNORECASE,
)


# The name of an environment variable (where the secret is read from, not the secret).
_ENVIRONMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
# What documentation and defaults write where a secret would go.
_PLACEHOLDER = re.compile(
    r"^(?:pass(?:word)?|passwd|pwd|secret|token|key|unused|dummy|example|placeholder|changeme"
    r"|none|null|empty|your[-_].*|x{3,}|\*{3,}|\.{3,})$",
    re.IGNORECASE,
)


def _plausible(value: str) -> bool:
    """Whether a value found by a name (not by its own shape) may be a secret."""
    return (
        len(value) >= 4
        and not any(char.isspace() for char in value)
        and not _REFERENCE.match(value)
        and not _ENVIRONMENT_NAME.match(value)
        and not _PLACEHOLDER.match(value)
    )


class _Span(NamedTuple):
    start: int
    end: int
    rule: str
    # Of two rules that find the same secret, the lower rank names it: merkle's own
    # names (0) before the detector's (1).
    rank: int = 0


def redact(text: str, *, path: str | None = None, thorough: bool = True) -> tuple[str, list[str]]:
    """`text` with every secret replaced by `[REDACTED]`, and the rule of each, in order.

    `path` names the file the text comes from, for the rules that depend on
    its type; `thorough` adds detect-secrets' plugins (file content and
    prompts; events and messages use merkle's own shapes only).
    """
    text, blocks = _KEY_BLOCK.subn(MARK, text) if "PRIVATE KEY" in text else (text, 0)
    folded = text.lower()
    spans = [*_own_spans(text, folded), *_assignment_spans(text, folded, path)]
    if thorough:
        spans += _detector_spans(text, folded, path)
    found = ["private key block"] * blocks
    pieces: list[str] = []
    cursor = 0
    for span in _merged(spans):
        pieces += [text[cursor : span.start], MARK]
        found.append(span.rule)
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces), found


def _own_spans(text: str, folded: str) -> Iterator[_Span]:
    for name, pattern, group, needles in _OWN_SHAPES:
        if not _present(needles, text, folded):
            continue
        for match in pattern.finditer(text):
            # The whole match, or the secret's group: the first of an alternation's
            # groups that took part.
            taking_part = range(group, (pattern.groups or 0) + 1) if group else ()
            chosen = next((i for i in taking_part if match.group(i) is not None), 0)
            if name == "URL credentials" and not _plausible(match.group(chosen)):
                continue  # `user:password@host` in documentation
            yield _Span(match.start(chosen), match.end(chosen), name)


def _is_config(path: str | None) -> bool:
    if path is None:
        return False
    name = path.rpartition("/")[2].lower()
    return name.startswith(_CONFIG_NAMES) or name.endswith(_CONFIG_SUFFIXES) or "." not in name


def _assignment_spans(text: str, folded: str, path: str | None) -> Iterator[_Span]:
    patterns = [_QUOTED_VALUE, *([_UNQUOTED_VALUE] if _is_config(path) else [])]
    searched = _searchable(text, folded)
    for pattern in patterns:
        for match in pattern.finditer(searched):
            start, end = match.span("value")
            if _plausible(text[start:end]):
                yield _Span(start, end, "secret assignment")


def _detector_spans(text: str, folded: str, path: str | None) -> Iterator[_Span]:
    rules, keyword = _detector()
    lines = _named_lines(text, folded)
    for name, pattern in rules:
        if not _present(_DETECTOR_NEEDLES.get(name, ()), text, folded):
            continue
        for offset, line in lines if name in _BY_LINE else [(0, text)]:
            for match in pattern.finditer(line):
                for value, start in _match_values(match):
                    if _PLACEHOLDER.match(value) or _REFERENCE.match(value):
                        continue  # `user:password@host` in documentation
                    yield _Span(offset + start, offset + start + len(value), name, 1)
    yield from _keyword_spans(text, folded, path, keyword)


def _named_lines(text: str, folded: str) -> list[tuple[int, str]]:
    """`(offset, line)` of each line that names a key, a password or a token."""
    return _lines_at(text, _NAMED_SECRET.finditer(_searchable(text, folded)))


def _searchable(text: str, folded: str) -> str:
    """The case-folded text where its offsets are the text's (not every character
    keeps its length when folded), else the text itself."""
    return folded if len(folded) == len(text) else text


def _lines_at(text: str, hits: Iterable[re.Match[str]]) -> list[tuple[int, str]]:
    """`(offset, line)` of each line of `text` that holds one of `hits`, once each."""
    found: list[tuple[int, str]] = []
    for hit in hits:
        start = text.rfind("\n", 0, hit.start()) + 1
        if found and found[-1][0] == start:
            continue
        end = text.find("\n", hit.end())
        found.append((start, text[start : end if end != -1 else len(text)]))
    return found


def _match_values(match: re.Match[str]) -> Iterator[tuple[str, int]]:
    """The secret of a plugin's match: its groups if it has any, else the whole match
    (as the plugins themselves report it)."""
    groups = [index for index in range(1, (match.re.groups or 0) + 1) if match.group(index)]
    if not groups:
        yield match.group(0), match.start(0)
    for index in groups:
        yield match.group(index), match.start(index)


def _keyword_spans(text: str, folded: str, path: str | None, keyword: Any) -> Iterator[_Span]:
    """detect-secrets' keyword plugin, on the lines that hold one of its keywords."""
    detector, regexes_for = keyword
    regexes = regexes_for(path or "")
    hits = detector.DENYLIST_REGEX.finditer(_searchable(text, folded))
    for start, line in _lines_at(text, hits):
        for value in detector.instance.analyze_string(line, denylist_regex_to_group=regexes):
            offset = line.find(value) if value and _plausible(value) else -1
            if offset >= 0:
                yield _Span(start + offset, start + offset + len(value), "secret keyword", 1)


@lru_cache(maxsize=1)
def _detector() -> tuple[list[tuple[str, re.Pattern[str]]], Any]:
    """detect-secrets' issuer patterns, and its keyword plugin with its regexes by file
    type (imported here: see the module docstring)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins import keyword
    from detect_secrets.util.filetype import determine_file_type

    # Entropy alone flags hashes and ids; the keyword rules cover the assigned ones.
    skipped = {"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"}
    skipped |= {"KeywordDetector", "PrivateKeyDetector"}  # by their own means below and above
    rules: list[tuple[str, re.Pattern[str]]] = []
    plugins: dict[str, Any] = get_mapping_from_secret_type_to_class()
    for secret_type, plugin in sorted(plugins.items()):
        if plugin.__name__ in skipped:
            continue
        rules += [(secret_type, pattern) for pattern in getattr(plugin(), "denylist", ())]

    class _Keyword:
        # Searched in the case-folded text (see `_NAMED_SECRET`).
        DENYLIST_REGEX = re.compile(keyword.DENYLIST_REGEX.lower())
        instance = keyword.KeywordDetector()

    def regexes_for(filename: str) -> Any:
        return keyword.REGEX_BY_FILETYPE.get(
            determine_file_type(filename), keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
        )

    return rules, (_Keyword, regexes_for)


def warm() -> None:
    """Load the detector now (a thread building prompts, before the first one)."""
    _detector()


def _merged(spans: Iterable[_Span]) -> Iterator[_Span]:
    """The spans in order, overlapping ones joined (the first rule names the join)."""
    current: _Span | None = None
    for span in sorted(spans, key=lambda span: (span.start, span.rank, -span.end)):
        if span.end <= span.start:
            continue
        if current is not None and span.start < current.end:
            current = current._replace(end=max(current.end, span.end))
            continue
        if current is not None:
            yield current
        current = span
    if current is not None:
        yield current
