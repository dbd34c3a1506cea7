"""The `anthropic` provider through the real SDK against the test server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from merkle.config.model import ProviderSettings
from merkle.providers.anthropic_provider import AnthropicProvider
from merkle.providers.base import (
    CompletionOptions,
    ErrorClass,
    Message,
    ProviderError,
    Role,
    Usage,
)
from tests.support.llm_server import LlmServer, Reply, refused_port
from tests.support.provider_calls import (
    assert_key_absent,
    complete,
    complete_many,
    failure,
)

MODEL = "claude-test"
KEY = "sk-ant-test-0123456789abcdef"
KEY_ENV = "MERKLE_TEST_ANTHROPIC_KEY"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[LlmServer]:
    with LlmServer(models={MODEL}, api_key=KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def settings_for(server: LlmServer, **changes: object) -> ProviderSettings:
    settings = ProviderSettings(
        name="anthropic-test",
        type="anthropic",
        model=MODEL,
        base_url=server.anthropic_url,
        api_key_env=KEY_ENV,
        timeout_s=0.5,
        max_tokens=256,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def provider_for(server: LlmServer, **changes: object) -> AnthropicProvider:
    return AnthropicProvider(settings_for(server, **changes), clock=lambda: NOW)


# -- what is sent and what comes back -------------------------------------------------


def test_system_goes_in_its_own_parameter_and_the_rest_in_messages(server: LlmServer) -> None:
    complete(provider_for(server), options=CompletionOptions(max_tokens=77))

    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.body == {
        "model": MODEL,
        "max_tokens": 77,
        "system": "You write short summaries.",
        "messages": [{"role": "user", "content": "Summarise src/app.py please"}],
    }


def test_settings_give_max_tokens_when_options_do_not(server: LlmServer) -> None:
    complete(provider_for(server, max_tokens=300))

    assert server.requests[0].body["max_tokens"] == 300


def test_several_system_messages_are_joined_and_turns_keep_their_roles(
    server: LlmServer,
) -> None:
    messages = (
        Message(role=Role.SYSTEM, content="First rule."),
        Message(role=Role.USER, content="Hello"),
        Message(role=Role.ASSISTANT, content="Draft"),
        Message(role=Role.SYSTEM, content="Second rule."),
        Message(role=Role.USER, content="Shorter"),
    )
    complete(provider_for(server), messages)

    body = server.requests[0].body
    assert body["system"] == "First rule.\n\nSecond rule."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_without_system_messages_no_system_parameter_is_sent(server: LlmServer) -> None:
    complete(provider_for(server), (Message(role=Role.USER, content="Hello"),))

    assert "system" not in server.requests[0].body


def test_temperature_option_is_not_sent(server: LlmServer) -> None:
    complete(provider_for(server), options=CompletionOptions(temperature=0.3))

    assert "temperature" not in server.requests[0].body


def test_configured_temperature_is_a_config_error(server: LlmServer) -> None:
    with pytest.raises(ProviderError) as caught:
        provider_for(server, temperature=0.2)

    assert caught.value.error_class is ErrorClass.CONFIG
    assert "temperature" in (caught.value.hint or "")


def test_completion_maps_text_model_and_usage(server: LlmServer) -> None:
    server.script(Reply.answer("A small web app.", model="claude-test-2030-01-01"))

    completion = complete(provider_for(server))

    assert completion.text == "A small web app."
    assert completion.model == "claude-test-2030-01-01"
    # The server counts words: 4 in the system message + 3 in the user's; 4 in the answer.
    assert completion.usage == Usage(input_tokens=7, output_tokens=4)


def test_text_is_the_text_blocks_joined_in_order(server: LlmServer) -> None:
    server.script(
        Reply.json(
            200,
            {
                "model": MODEL,
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "x"},
                    {"type": "text", "text": "First part, "},
                    {"type": "text", "text": "second part."},
                ],
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
        )
    )

    completion = complete(provider_for(server))

    assert completion.text == "First part, second part."
    assert completion.usage == Usage(input_tokens=10, output_tokens=5)


def test_api_key_is_sent_and_never_in_the_record_repr(server: LlmServer) -> None:
    complete(provider_for(server))

    [request] = server.requests
    assert request.has_credential
    assert request.api_key == KEY
    assert "anthropic-version" in request.headers
    assert KEY not in repr(request)


def test_per_request_timeout_overrides_the_setting(server: LlmServer) -> None:
    server.script(Reply.hang())

    error = failure(provider_for(server, timeout_s=30.0), options=CompletionOptions(timeout_s=0.3))

    assert error.error_class is ErrorClass.TIMEOUT
    assert "0.3 s" in error.message


def test_concurrent_calls_are_in_flight_together(server: LlmServer) -> None:
    server.default = Reply.answer(in_flight=3)

    completions = complete_many(provider_for(server, timeout_s=5.0), 3)

    assert len(completions) == 3
    assert server.max_in_flight == 3


# -- every failure, classified, after exactly one request ------------------------------


@dataclass(frozen=True)
class Case:
    reply: Reply
    error_class: ErrorClass
    retryable: bool
    retry_after_s: float | None = None


CASES = {
    "429 retry-after seconds": Case(Reply.rate_limited("7"), ErrorClass.RATE_LIMITED, True, 7.0),
    "429 retry-after http-date": Case(
        Reply.rate_limited(format_datetime(NOW + timedelta(seconds=30), usegmt=True)),
        ErrorClass.RATE_LIMITED,
        True,
        30.0,
    ),
    "529 overloaded": Case(Reply.overloaded(), ErrorClass.SERVER_ERROR, True),
    "529 overloaded retry-after": Case(Reply.overloaded("12"), ErrorClass.SERVER_ERROR, True, 12.0),
    "500": Case(Reply.error(500, "internal error"), ErrorClass.SERVER_ERROR, True),
    "503": Case(Reply.error(503, "unavailable"), ErrorClass.SERVER_ERROR, True),
    "hang past the timeout": Case(Reply.hang(), ErrorClass.TIMEOUT, True),
    "dropped connection": Case(Reply.drop(), ErrorClass.CONNECTION, True),
    "malformed json": Case(Reply.malformed(), ErrorClass.SERVER_ERROR, True),
    "no content": Case(Reply.json(200, {"model": MODEL}), ErrorClass.SERVER_ERROR, True),
    "no text block": Case(
        Reply.json(200, {"content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]}),
        ErrorClass.SERVER_ERROR,
        True,
    ),
    "401": Case(
        Reply.error(401, "invalid x-api-key", error_type="authentication_error"),
        ErrorClass.AUTH,
        False,
    ),
    "403": Case(
        Reply.error(403, "not allowed", error_type="permission_error"), ErrorClass.AUTH, False
    ),
    "404": Case(
        Reply.error(404, "model: nope", error_type="not_found_error"),
        ErrorClass.MODEL_NOT_FOUND,
        False,
    ),
    "400 prompt too long": Case(
        Reply.error(400, "prompt is too long: 210000 tokens > 200000 maximum"),
        ErrorClass.CONTEXT_LENGTH,
        False,
    ),
    "413 request too large": Case(
        Reply.error(413, "Request exceeds the maximum size", error_type="request_too_large"),
        ErrorClass.CONTEXT_LENGTH,
        False,
    ),
    "400 other": Case(
        Reply.error(400, "temperature: Extra inputs are not permitted"),
        ErrorClass.BAD_REQUEST,
        False,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_failure_is_classified_after_exactly_one_request(server: LlmServer, case: Case) -> None:
    server.script(case.reply)

    error = failure(provider_for(server))

    assert error.error_class is case.error_class
    assert error.retryable is case.retryable
    assert error.retry_after_s == case.retry_after_s
    assert error.hint
    assert len(server.requests) == 1
    assert_key_absent(error, KEY)


def test_unknown_model_is_model_not_found(server: LlmServer) -> None:
    error = failure(provider_for(server, model="claude-missing"))

    assert error.error_class is ErrorClass.MODEL_NOT_FOUND
    assert not error.retryable
    assert "claude-missing" in error.message
    assert len(server.requests) == 1


def test_rejected_key_is_auth_and_never_quoted(
    server: LlmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-ant-wrong-fedcba9876543210"
    monkeypatch.setenv(KEY_ENV, wrong)

    error = failure(provider_for(server))

    assert error.error_class is ErrorClass.AUTH
    assert not error.retryable
    assert KEY_ENV in (error.hint or "")
    assert server.requests[0].api_key == wrong  # the server did quote it back
    assert_key_absent(error, wrong)


def test_refused_port_is_a_connection_error() -> None:
    with refused_port() as port:
        settings = ProviderSettings(
            name="anthropic-test",
            type="anthropic",
            model=MODEL,
            base_url=f"http://127.0.0.1:{port}",
            api_key_env=KEY_ENV,
            timeout_s=0.5,
        )
        error = failure(AnthropicProvider(settings))

    assert error.error_class is ErrorClass.CONNECTION
    assert error.retryable
    assert f"127.0.0.1:{port}" in error.message
    assert_key_absent(error, KEY)


# -- configuration -------------------------------------------------------------------


def test_missing_key_variable_is_a_config_error_naming_it(
    server: LlmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)

    with pytest.raises(ProviderError) as caught:
        provider_for(server)

    error = caught.value
    assert error.error_class is ErrorClass.CONFIG
    assert not error.retryable
    assert KEY_ENV in str(error)
    assert KEY_ENV in (error.hint or "")
    assert server.requests == []


def test_remote_server_without_key_variable_reads_anthropic_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = ProviderSettings(name="anthropic-test", type="anthropic", model=MODEL)

    with pytest.raises(ProviderError) as caught:
        AnthropicProvider(settings)

    assert caught.value.error_class is ErrorClass.CONFIG
    assert "ANTHROPIC_API_KEY" in (caught.value.hint or "")
