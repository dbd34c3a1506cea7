"""Redaction replaces the secret and nothing else: real annotated code is left intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from merkle.metadata.redaction import redact

SOURCE = Path(__file__).resolve().parents[3] / "src" / "merkle"

# Code that names tokens and passwords everywhere and holds none.
ANNOTATED = '''\
from fastapi import Depends
from pydantic import BaseModel, Field, SecretStr


class Settings(BaseModel):
    secret_key: SecretStr = Field(..., description="signs the session cookies")
    api_key_env: str = "SHOP_API_KEY"
    token_url: str = "https://auth.example.com/token"
    password_min_length: int = 12


def login(username: str, password: str, token: Token | None = None) -> Token:
    """Check `password` against the stored hash and return a token."""
    password_hash = hash_password(password)
    client = Client(api_key=settings.api_key, token=token, password=password)
    if verify(password_hash, password=password):
        return issue_token(secret=settings.secret_key.get_secret_value())
    raise Unauthorized(detail="bad password")


async def current_user(token: str = Depends(oauth2_scheme), *, secret: bytes = b"") -> User:
    return await decode(token, key=secret, algorithms=["HS256"])
'''


def test_annotations_keyword_arguments_and_identifiers_are_never_redacted() -> None:
    redacted, found = redact(ANNOTATED, path="shop/auth.py")
    assert (redacted, found) == (ANNOTATED, [])


def test_merkle_s_own_annotated_source_has_nothing_to_redact() -> None:
    redacted = {
        str(path.relative_to(SOURCE)): found
        for path in sorted(SOURCE.rglob("*.py"))
        if (found := redact(path.read_text(encoding="utf-8"), path=str(path))[1])
    }
    assert redacted == {}


@pytest.mark.parametrize(
    ("path", "line", "expected"),
    [
        (
            "a.py",
            'URL = "mysql://root:' + 'Xy9wv8TT@db/app"',
            'URL = "mysql://root:[REDACTED]@db/app"',
        ),
        ("a.py", "password = '" + "Hunter2Hunter'", "password = '[REDACTED]'"),
        ("a.ini", "pass = " + "Hunter2Hunter", "pass = [REDACTED]"),
        ("a.env", "DB_PASSWORD=" + "Hunter2Hunter", "DB_PASSWORD=[REDACTED]"),
        ("a.yaml", "  api_key: " + "Zx9Yw8Vu7Ts6", "  api_key: [REDACTED]"),
        (
            "a.py",
            "h = {'Authorization': 'Basic " + "dXNlcjpwYXNz'}",
            "h = {'Authorization': 'Basic [REDACTED]'}",
        ),
    ],
)
def test_only_the_secret_value_is_replaced(path: str, line: str, expected: str) -> None:
    assert redact(line, path=path)[0] == expected


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("a.py", "token = get_token()"),
        ("a.py", "password = os.environ['DB_PASSWORD']"),
        ("a.yaml", "password: ${DB_PASSWORD}"),
        ("a.env", "API_KEY=<your-api-key>"),
        ("a.md", "Connect with `postgres://user:password@localhost/db`."),
        ("a.py", '"""Basic infrastructure for asynchronous clients."""'),
        ("a.py", "bypass = 'not-a-secret-at-all'"),
        ("a.py", "DEFAULT_API_KEY_ENV = 'OPENAI_API_KEY'"),
    ],
)
def test_references_placeholders_and_prose_are_left_alone(path: str, line: str) -> None:
    assert redact(line, path=path) == (line, [])


@pytest.mark.parametrize(
    "line",
    ['USER_PASSWD = "%s:%s" % (USER, PASSWD)', "credentials = '{0}:{1}'.format(user, passwd)"],
)
def test_a_format_string_is_where_a_secret_goes_not_a_secret(line: str) -> None:
    assert redact(line, path="a.py") == (line, [])
