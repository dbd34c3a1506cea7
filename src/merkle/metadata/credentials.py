"""Recognising text that looks like a credential: API keys, tokens, private keys.

Two sets of rules. The specific ones match the shapes issuers give their
secrets and hardly ever match anything else; they apply to every text merkle
stores. The broad ones also catch `password=...`-style assignments; they apply
where no prose is expected, such as metadata values. Replacing secrets in
what is sent or stored is `merkle.metadata.redaction`'s.
"""

from __future__ import annotations

import re

SPECIFIC_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key block", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")),
    ("AWS access key id", re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    ("Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("OpenAI-style API key", re.compile(r"\bsk-(proj-)?[A-Za-z0-9_-]{20,}")),
    ("GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    (
        "JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
)

BROAD_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("bearer token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}")),
    (
        "secret assignment",
        re.compile(
            r"(?i)\b(api[_-]?key|secret|token|passw(or)?d|pwd|credential)s?\b\s*[:=]\s*\S{4,}"
        ),
    ),
)


def credential_rule(text: str, *, broad: bool = False) -> str | None:
    """The name of the first rule that `text` matches, or None when it looks clean."""
    rules = (*SPECIFIC_RULES, *BROAD_RULES) if broad else SPECIFIC_RULES
    for name, pattern in rules:
        if pattern.search(text):
            return name
    return None
