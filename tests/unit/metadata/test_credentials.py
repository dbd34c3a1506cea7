"""Recognising credentials: the specific rules everywhere, the broad ones in metadata only."""

from __future__ import annotations

import pytest

from merkle.metadata import credential_rule

# Fake credentials of the real shapes, assembled so that no scanner mistakes this file for a leak.
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
OPENAI_KEY = "sk-" + "abcdefghijklmnopqrstuvwx1234"
OPENAI_PROJECT_KEY = "sk-" + "proj-" + "Abc123def456ghi789jkl012"
ANTHROPIC_KEY = "sk-" + "ant-api03-" + "abcdefghijklmnopqrstuvwxyz"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
SLACK_TOKEN = "xoxb-" + "1234567890-abcdefghij"
GOOGLE_KEY = "AIza" + "SyA1234567890abcdefghijklmnopqrstuv"
JWT = "eyJ" + "hbGciOiJIUzI1NiJ9" + ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n", "private key block"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key block"),
        ("-----BEGIN PRIVATE KEY-----", "private key block"),
        ("-----BEGIN EC PRIVATE KEY-----", "private key block"),
        ("-----BEGIN PGP PRIVATE KEY BLOCK-----", "private key block"),
        (AWS_KEY_ID, "AWS access key id"),
        (f"aws_access_key_id = {AWS_KEY_ID}\n", "AWS access key id"),
        ("ASIA" + "ABCDEFGHIJ234567", "AWS access key id"),
        (ANTHROPIC_KEY, "Anthropic API key"),
        (OPENAI_KEY, "OpenAI-style API key"),
        (OPENAI_PROJECT_KEY, "OpenAI-style API key"),
        (f'client = OpenAI(api_key="{OPENAI_KEY}")', "OpenAI-style API key"),
        (GITHUB_TOKEN, "GitHub token"),
        (GITHUB_PAT, "GitHub token"),
        (SLACK_TOKEN, "Slack token"),
        (GOOGLE_KEY, "Google API key"),
        (JWT, "JSON web token"),
    ],
)
def test_specific_rules_name_the_kind_of_credential_found(text: str, rule: str) -> None:
    assert credential_rule(text) == rule
    assert credential_rule(text, broad=True) == rule


@pytest.mark.parametrize(
    "text",
    [
        "",
        "This module parses the configuration file and returns a Settings object.",
        "-----BEGIN PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----",
        "AKIA" + "IOSFODNN7EXAMPL",  # 15 characters after the prefix, not 16
        "akia" + "iosfodnn7example",  # the issuer's ids are upper case
        "sk-short",
        "task-" + "abcdefghijklmnopqrstuvwxyz",  # `sk-` inside a word is not a key
        "see https://example.com/ask-questions-about-the-api-and-more",
        "ghp_short",
        "eyJhbGciOiJIUzI1NiJ9 is the base64 of a JWT header",
    ],
)
def test_ordinary_text_matches_no_rule(text: str) -> None:
    assert credential_rule(text) is None
    assert credential_rule(text, broad=True) is None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Authorization: Bearer abcdefghijklmnop1234", "bearer token"),
        ("bearer ABCDEFGHIJKLMNOPQRST.uvw", "bearer token"),
        ("api_key = abcd1234", "secret assignment"),
        ("API-KEY: zzzz9999", "secret assignment"),
        ("apikey=hunter22", "secret assignment"),
        ("password: hunter22", "secret assignment"),
        ("passwd=correcthorse", "secret assignment"),
        ("secret=s3cr3t!", "secret assignment"),
        ("tokens: words and punctuation", "secret assignment"),
        ("credentials = admin:admin", "secret assignment"),
    ],
)
def test_broad_rules_apply_only_when_asked_for(text: str, rule: str) -> None:
    assert credential_rule(text, broad=True) == rule
    # Frame content is prose, where such phrases are common: only specific rules apply.
    assert credential_rule(text) is None


def test_a_secret_assignment_needs_a_value_of_four_characters() -> None:
    assert credential_rule("password: abc", broad=True) is None
    assert credential_rule("the password field is checked on login", broad=True) is None


def test_an_anthropic_key_is_named_as_such_though_it_also_has_the_openai_shape() -> None:
    assert credential_rule(f"key {ANTHROPIC_KEY} here") == "Anthropic API key"
