"""What the SDK-backed providers share: key lookup, classification, wording, redaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from merkle.config.model import ProviderSettings
from merkle.providers.base import ErrorClass, ProviderError
from merkle.providers.remote import (
    PLACEHOLDER_API_KEY,
    Endpoint,
    classify_status,
    error_details,
    is_loopback_url,
    origin,
    read_api_key,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
KEY = "sk-unit-0123456789"


def endpoint(api_key_env: str | None = "MY_KEY") -> Endpoint:
    return Endpoint(
        name="main",
        model="m-1",
        base_url="https://user:pw@llm.example.com:8443/v1?key=abc",
        api_key_env=api_key_env,
        api_key=KEY,
    )


@pytest.mark.parametrize(
    ("status", "message", "code", "expected"),
    [
        (429, None, None, ErrorClass.RATE_LIMITED),
        (408, None, None, ErrorClass.TIMEOUT),
        (500, None, None, ErrorClass.SERVER_ERROR),
        (529, "Overloaded", "overloaded_error", ErrorClass.SERVER_ERROR),
        (401, "maximum context length", None, ErrorClass.AUTH),
        (403, None, None, ErrorClass.AUTH),
        (404, None, None, ErrorClass.MODEL_NOT_FOUND),
        (400, "whatever", "context_length_exceeded", ErrorClass.CONTEXT_LENGTH),
        (
            400,
            "This model's maximum context length is 4096 tokens",
            None,
            ErrorClass.CONTEXT_LENGTH,
        ),
        (
            400,
            "prompt is too long: 300000 tokens > 200000 maximum",
            None,
            ErrorClass.CONTEXT_LENGTH,
        ),
        (413, "Request exceeds the maximum size", None, ErrorClass.CONTEXT_LENGTH),
        (400, 'model "llama9" not found, try pulling it first', None, ErrorClass.MODEL_NOT_FOUND),
        (400, "The model `x` does not exist", None, ErrorClass.MODEL_NOT_FOUND),
        (400, None, "model_not_found", ErrorClass.MODEL_NOT_FOUND),
        (400, "max_tokens: must be positive", None, ErrorClass.BAD_REQUEST),
        (422, None, None, ErrorClass.BAD_REQUEST),
        (409, None, None, ErrorClass.BAD_REQUEST),
    ],
)
def test_classify_status(
    status: int, message: str | None, code: str | None, expected: ErrorClass
) -> None:
    assert classify_status(status, message=message, code=code) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "m", "type": "invalid_request_error", "code": "c"}, ("m", "c")),
        ({"error": {"message": "m", "type": "t", "code": None}}, ("m", "t")),
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "m"}},
            ("m", "overloaded_error"),
        ),
        ("  plain text  ", ("plain text", None)),
        ("", (None, None)),
        (None, (None, None)),
        ([1, 2], (None, None)),
        ({"error": "a string"}, (None, None)),
    ],
)
def test_error_details_reads_both_wire_formats(
    body: object, expected: tuple[str | None, str | None]
) -> None:
    assert error_details(body) == expected


def test_rejection_wording_names_provider_model_and_status_without_the_key() -> None:
    error = endpoint().rejected(
        404, body={"error": {"message": f"no model for {KEY}"}}, headers={}, now=NOW
    )

    assert error.error_class is ErrorClass.MODEL_NOT_FOUND
    assert error.message == "main: model 'm-1' not found (HTTP 404): no model for [redacted]"
    assert error.hint == "check model (and base_url) in [providers.main]"


def test_retry_after_is_kept_only_for_retryable_answers() -> None:
    headers = {"retry-after": "3"}
    assert endpoint().rejected(503, body=None, headers=headers, now=NOW).retry_after_s == 3.0
    assert endpoint().rejected(400, body=None, headers=headers, now=NOW).retry_after_s is None


def test_auth_hint_names_the_variable_or_asks_for_one() -> None:
    named = endpoint().rejected(401, body=None, headers={}, now=NOW)
    unnamed = endpoint(api_key_env=None).rejected(401, body=None, headers={}, now=NOW)

    assert named.hint == "check that MY_KEY holds a valid API key for https://llm.example.com:8443"
    assert "set api_key_env in [providers.main]" in (unnamed.hint or "")


def test_endpoint_repr_leaves_the_key_out() -> None:
    assert KEY not in repr(endpoint())


def test_origin_drops_userinfo_path_and_query() -> None:
    assert origin("https://user:pw@llm.example.com:8443/v1?key=abc") == (
        "https://llm.example.com:8443"
    )
    assert origin("http://127.0.0.1/v1") == "http://127.0.0.1"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:11434/v1", True),
        ("http://127.0.0.1:8000", True),
        ("http://127.8.9.10", True),
        ("http://[::1]:8080/v1", True),
        ("http://app.localhost", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.2:11434", False),
        ("not a url", False),
        (None, False),
    ],
)
def test_is_loopback_url(url: str | None, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", f"  {KEY}\n")
    settings = ProviderSettings(name="main", type="openai", api_key_env="MY_KEY")

    assert read_api_key(settings, default_env="OPENAI_API_KEY") == KEY


def test_empty_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "")
    settings = ProviderSettings(name="main", type="openai", api_key_env="MY_KEY")

    with pytest.raises(ProviderError) as caught:
        read_api_key(settings, default_env="OPENAI_API_KEY")

    assert caught.value.error_class is ErrorClass.CONFIG
    assert "MY_KEY" in caught.value.message


def test_named_variable_is_required_even_for_a_local_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    settings = ProviderSettings(
        name="main", type="openai", base_url="http://localhost:1/v1", api_key_env="MY_KEY"
    )

    with pytest.raises(ProviderError):
        read_api_key(settings, default_env="OPENAI_API_KEY")


def test_local_server_without_variable_gets_the_placeholder() -> None:
    settings = ProviderSettings(name="main", type="openai", base_url="http://localhost:1/v1")

    assert read_api_key(settings, default_env="OPENAI_API_KEY") == PLACEHOLDER_API_KEY
